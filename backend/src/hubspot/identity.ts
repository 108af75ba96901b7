/**
 * Who is calling, read only from the query string, which the HubSpot signature covers (pipeline/signed-api.ts verifies
 * it first). Two sets of names can carry the viewer:
 *
 * - HubSpot's: `portalId`, `userId`, and when present `appId`, `userEmail`. HubSpot's docs do not settle that
 *   hubspot.fetch() appends them: "Fetching data" (developers.hubspot.com/docs/guides/crm/public-apps/fetching-data)
 *   names no query parameter; @hubspot/ui-extensions 0.17 declares a `ProxyMetadata { userEmail, userId, portalId }`
 *   type it never uses; HubSpot's legacy-card converter example (github.com/HubSpot/ui-extensions-examples,
 *   legacy-card-converter/README.md) says `appId` "is automatically included in all data fetch requests" yet builds
 *   `userId` and `portalId` from the card's context itself. So these names are the only ones that count in production,
 *   and a request without them is refused (README, "HubSpot facts we rely on").
 * - the card's: `vgPortalId`, `vgUserId`, from the extension context, for `hs project dev`, whose proxy signs but
 *   appends nothing (@hubspot/ui-extensions-dev-server, proxy/AppProxyService.js). Whoever writes the card chooses
 *   them, so they name the viewer only when the operator allows it outside production (ALLOW_CARD_IDENTITY).
 *
 * A name repeated with different values, or the two sets naming different viewers, is a forgery attempt.
 */

export type IdentitySource = 'hubspot' | 'card';

export interface SignedIdentity {
  portalId: number;
  userId: number;
  appId: number | undefined;
  userEmail: string | undefined;
  /** Whose names identified the viewer: HubSpot's, or (development only) the card's. */
  source: IdentitySource;
}

/** The viewer's names as HubSpot is assumed to append them; the card never sends these. */
export const HUBSPOT_IDENTITY_PARAMS = ['portalId', 'userId'] as const;
/** The same facts under the card's own names (hubspot-project/app/shared/backend-client.ts sends them). */
export const CARD_IDENTITY_PARAMS = { portalId: 'vgPortalId', userId: 'vgUserId' } as const;

export type IdentityFailure =
  | { failure: 'HUBSPOT_IDENTITY_MISSING'; missing: ReadonlyArray<(typeof HUBSPOT_IDENTITY_PARAMS)[number]> }
  | { failure: 'IDENTITY_MISSING' | 'IDENTITY_CONFLICT' | 'APP_MISMATCH' };

export interface IdentityRules {
  /** HUBSPOT_APP_ID: when set, an `appId` naming another app is refused. */
  expectedAppId: number | undefined;
  /** ALLOW_CARD_IDENTITY (never in production): the card's names may identify the viewer when HubSpot's are absent. */
  allowCardIdentity: boolean;
}

/** HubSpot ids are positive integers; past 2^53 a JavaScript number silently becomes a different id. */
const ID_PATTERN = /^[1-9]\d{0,15}$/;
const isId = (value: string) => ID_PATTERN.test(value) && Number.isSafeInteger(Number(value));

/** Every name that can say who is asking; each may be repeated, but only with one value. */
const IDENTITY_NAMES = ['portalId', 'userId', 'appId', 'userEmail', CARD_IDENTITY_PARAMS.portalId, CARD_IDENTITY_PARAMS.userId] as const;

export function readSignedIdentity(rawPathAndQuery: string, rules: IdentityRules): { ok: true; identity: SignedIdentity } | ({ ok: false } & IdentityFailure) {
  const queryStart = rawPathAndQuery.indexOf('?');
  const params = new URLSearchParams(queryStart === -1 ? '' : rawPathAndQuery.slice(queryStart + 1));
  if (IDENTITY_NAMES.some((name) => new Set(params.getAll(name)).size > 1)) return { ok: false, failure: 'IDENTITY_CONFLICT' };
  const read = (name: (typeof IDENTITY_NAMES)[number]) => params.get(name) ?? undefined;
  const hubspot = { portalId: read('portalId'), userId: read('userId') };
  const { portalId, userId } = hubspot;
  const appId = read('appId');
  const userEmail = read('userEmail');
  const cardPortalId = read(CARD_IDENTITY_PARAMS.portalId);
  const cardUserId = read(CARD_IDENTITY_PARAMS.userId);

  if (appId !== undefined && (!isId(appId) || (rules.expectedAppId !== undefined && Number(appId) !== rules.expectedAppId))) {
    return { ok: false, failure: 'APP_MISMATCH' };
  }
  if ([portalId, userId, cardPortalId, cardUserId].some((id) => id !== undefined && !isId(id))) return { ok: false, failure: 'IDENTITY_MISSING' };
  // The card sends its names on every request, so in production they arrive next to HubSpot's: they must name the same viewer.
  if (
    (cardPortalId !== undefined && portalId !== undefined && cardPortalId !== portalId) ||
    (cardUserId !== undefined && userId !== undefined && cardUserId !== userId)
  ) {
    return { ok: false, failure: 'IDENTITY_CONFLICT' };
  }

  const identity = (portal: string, user: string, source: IdentitySource): { ok: true; identity: SignedIdentity } => ({
    ok: true,
    identity: { portalId: Number(portal), userId: Number(user), appId: appId === undefined ? undefined : Number(appId), userEmail, source },
  });
  if (portalId !== undefined && userId !== undefined) return identity(portalId, userId, 'hubspot');
  if (rules.allowCardIdentity && portalId === undefined && userId === undefined) {
    return cardPortalId !== undefined && cardUserId !== undefined ? identity(cardPortalId, cardUserId, 'card') : { ok: false, failure: 'IDENTITY_MISSING' };
  }
  return { ok: false, failure: 'HUBSPOT_IDENTITY_MISSING', missing: HUBSPOT_IDENTITY_PARAMS.filter((name) => hubspot[name] === undefined) };
}
