/**
 * Who is calling, read only from the signed query string. HubSpot appends `portalId`, `userId`, `userEmail`
 * and `appId` to every hubspot.fetch() URL in production ("Fetching data" in the UI extensions docs); the card
 * adds `portalId` and `userId` itself so `hs project dev`, which does not append them, works too. A value may
 * therefore appear twice, and both copies must agree: two different user ids is a forgery attempt.
 */

export interface SignedIdentity {
  portalId: number;
  userId: number;
  appId: number | undefined;
  userEmail: string | undefined;
}

export type IdentityFailure = 'IDENTITY_MISSING' | 'IDENTITY_CONFLICT' | 'APP_MISMATCH';

/** HubSpot ids are positive integers; past 2^53 a JavaScript number silently becomes a different id. */
const ID_PATTERN = /^[1-9]\d{0,15}$/;
const isId = (value: string) => ID_PATTERN.test(value) && Number.isSafeInteger(Number(value));

function singleValue(params: URLSearchParams, name: string): { value: string | undefined } | 'conflict' {
  const values = params.getAll(name);
  if (values.some((value) => value !== values[0])) return 'conflict';
  return { value: values[0] };
}

export function readSignedIdentity(
  rawPathAndQuery: string,
  expectedAppId: number | undefined,
): { ok: true; identity: SignedIdentity } | { ok: false; failure: IdentityFailure } {
  const queryStart = rawPathAndQuery.indexOf('?');
  const params = new URLSearchParams(queryStart === -1 ? '' : rawPathAndQuery.slice(queryStart + 1));

  const portal = singleValue(params, 'portalId');
  const user = singleValue(params, 'userId');
  const app = singleValue(params, 'appId');
  const email = singleValue(params, 'userEmail');
  if (portal === 'conflict' || user === 'conflict' || app === 'conflict' || email === 'conflict') {
    return { ok: false, failure: 'IDENTITY_CONFLICT' };
  }
  if (portal.value === undefined || user.value === undefined) return { ok: false, failure: 'IDENTITY_MISSING' };
  if (!isId(portal.value) || !isId(user.value)) return { ok: false, failure: 'IDENTITY_MISSING' };
  if (app.value !== undefined && !isId(app.value)) return { ok: false, failure: 'APP_MISMATCH' };

  const appId = app.value === undefined ? undefined : Number(app.value);
  if (expectedAppId !== undefined && appId !== undefined && appId !== expectedAppId) {
    return { ok: false, failure: 'APP_MISMATCH' };
  }
  return {
    ok: true,
    identity: { portalId: Number(portal.value), userId: Number(user.value), appId, userEmail: email.value },
  };
}
