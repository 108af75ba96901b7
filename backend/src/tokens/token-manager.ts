import { AppError } from '../errors.js';
import type { Deadline } from '../hubspot/deadline.js';
import { InvalidGrantError, refreshMayHaveReachedHubSpot, type OAuthClient } from '../hubspot/oauth.js';
import type { Installation, InstallationStore, RefreshedTokens } from '../store/index.js';

export interface TokenManagerOptions {
  installations: InstallationStore;
  oauth: OAuthClient;
  /** Refresh this long before expiry, so a token never dies in the middle of a request. */
  refreshMarginMs: number;
  now: () => number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface TokenManager {
  /**
   * The caller stops waiting for a refresh at its own `deadline` (HUBSPOT_UNAVAILABLE); the refresh goes on for every
   * other caller, within the token endpoint's own deadline, and commits.
   */
  accessTokenFor(portalId: number, deadline: Deadline): Promise<string>;
}

/** What one pass under the refresh lock ended with. The lock commits whatever a pass returns (see refresh()). */
type Pass =
  | { kind: 'token'; accessToken: string }
  | { kind: 'revoked' }
  /** The call may have reached HubSpot, its answer lost: try again only after re-reading the row. */
  | { kind: 'uncertain'; error: Error }
  /** invalid_grant right after an uncertain refresh: re-read the row before believing it. */
  | { kind: 'refused'; refreshToken: string; hubspotCorrelationId: string | undefined };

/** New tokens HubSpot gave us whose commit failed: saved first by the next pass, unless the row moved on meanwhile. */
interface UnsavedTokens {
  tokens: RefreshedTokens;
  /** The refresh token HubSpot took in exchange (and, rotating, may no longer accept). */
  sentRefreshToken: string;
  sentAt: number;
}

/** Passes per refresh: one uncertain failure is tried again, then one more pass may re-read after a refusal. */
const MAX_PASSES = 3;
const MAX_UNCERTAIN = 2;

const REVOKED_REASON = 'HubSpot refused the refresh token: the app was uninstalled or its access was revoked.';
const LOST_ROTATION_REASON =
  'HubSpot refused the refresh token right after a refresh whose answer never reached the database (the answer was lost, or the process ended): ' +
  'HubSpot may have replaced the refresh token then, or the app was uninstalled.';

/**
 * The account's install token, refreshed ahead of expiry (by expires_in, not on a 401). One refresh per account at a
 * time: concurrent callers in this process share one promise, and across processes the store's refresh lock
 * serialises them; whoever gets the lock second re-reads the row and finds the fresh token.
 *
 * HubSpot's docs neither promise that the refresh token stays the same nor rule out that a refresh replaces it: the
 * 2026-03 token answer requires a `refresh_token` (shared/hubspot-openapi/2026-03/oauth.json, AccessTokenResponse);
 * the 2026-03 guide calls it "your app's long-term authentication credential that you can use to generate a new
 * access token" (developers.hubspot.com/docs/api-reference/2026-03/authentication/manage-oauth-tokens) and the v3
 * endpoints "OAuth 2.1" (…/auth-oauth-v3/guide), which permits rotation. Under rotation the new refresh token exists only
 * in HubSpot's answer until we commit it, so a refresh is run so that losing it takes the death of the process in
 * that window:
 * - before anything is sent, the row is written (refresh_started_at) under the lock: a database that cannot take
 *   the write stops the refresh with DATABASE_UNAVAILABLE before HubSpot could rotate anything;
 * - the answer is committed before anything else happens (no other await between HubSpot's answer and the write);
 * - a call that may have reached HubSpot is never sent again blindly: the scheduler does not retry it, and the next
 *   pass takes the lock afresh and re-reads the row;
 * - invalid_grant right after an uncertain refresh (ours, or one the row records from a process that died) re-reads
 *   the row and retries with what it holds before the install is marked needs_reinstall;
 * - tokens whose commit failed stay in memory and are saved first by the next pass.
 * The refresh is shared by every caller waiting for it, so no caller's own deadline cuts it short (a caller only
 * stops waiting at its deadline): it finishes, within the token endpoint's own deadline, and commits.
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const inFlight = new Map<number, Promise<string>>();
  const unsaved = new Map<number, UnsavedTokens>();
  const now = () => new Date(options.now());

  const isFresh = (installation: Installation): boolean => installation.accessTokenExpiresAt.getTime() - options.refreshMarginMs > options.now();

  function usable(installation: Installation | undefined): Installation {
    if (installation === undefined || installation.status === 'uninstalled') {
      throw new AppError('NOT_INSTALLED');
    }
    if (installation.status === 'needs_reinstall') {
      throw new AppError('INSTALL_NEEDS_REPAIR');
    }
    return installation;
  }

  /**
   * Saves tokens an earlier pass could not commit, if the row still holds the refresh token they were exchanged for
   * and nothing newer (otherwise someone committed a later refresh and ours are stale). A needs_reinstall set after
   * we sent that refresh was very likely caused by it (another instance tried the token HubSpot had just replaced),
   * so it is lifted; a real revocation shows again at the next refresh. They stay in `unsaved` until refresh() sees
   * the lock commit, since on PostgreSQL this write rolls back with the pass if anything later in it fails.
   */
  async function saveUnsaved(locked: InstallationStore, portalId: number, row: Installation | undefined): Promise<Installation | undefined> {
    const pending = unsaved.get(portalId);
    if (pending === undefined) return row;
    const ours =
      row !== undefined &&
      row.refreshToken === pending.sentRefreshToken &&
      row.accessTokenExpiresAt.getTime() <= pending.tokens.accessTokenExpiresAt.getTime() &&
      (row.status === 'active' || (row.status === 'needs_reinstall' && row.statusChangedAt.getTime() >= pending.sentAt));
    if (!ours) {
      unsaved.delete(portalId);
      return row;
    }
    const reactivate = row.status === 'needs_reinstall';
    await locked.saveRefreshedTokens(portalId, pending.tokens, now(), { reactivate });
    options.log.info({ portalId, reactivated: reactivate }, 'install token saved from an earlier refresh whose commit had failed');
    return locked.get(portalId);
  }

  async function markRevoked(locked: InstallationStore, portalId: number, reason: string, hubspotCorrelationId: string | undefined): Promise<Pass> {
    await locked.markStatus(portalId, 'needs_reinstall', reason, now());
    options.log.warn({ portalId, hubspotCorrelationId, reason }, 'refresh token refused; install marked needs_reinstall');
    return { kind: 'revoked' };
  }

  /** One pass under the lock. `refused`: the refresh token HubSpot refused in the previous pass, after an uncertain refresh. */
  async function pass(locked: InstallationStore, portalId: number, refused: string | undefined): Promise<Pass> {
    const current = usable(await saveUnsaved(locked, portalId, await locked.get(portalId)));
    if (isFresh(current)) return { kind: 'token', accessToken: current.accessToken };
    // Re-read after the refusal: the database holds nothing newer than what HubSpot refused, so the refusal stands.
    if (refused !== undefined && current.refreshToken === refused) return markRevoked(locked, portalId, LOST_ROTATION_REASON, undefined);
    const afterUncertain = current.refreshStartedAt !== null;
    try {
      await locked.markRefreshStarted(portalId, now());
    } catch (error) {
      throw new AppError('DATABASE_UNAVAILABLE', {
        message: 'Viewer Guard cannot write to its database, so it did not refresh the HubSpot token.',
        cause: error,
      });
    }
    const sentAt = options.now();
    let answer;
    try {
      answer = await options.oauth.refresh(portalId, current.refreshToken);
    } catch (error) {
      if (error instanceof InvalidGrantError) {
        if (afterUncertain) return { kind: 'refused', refreshToken: current.refreshToken, hubspotCorrelationId: error.hubspotCorrelationId };
        return markRevoked(locked, portalId, REVOKED_REASON, error.hubspotCorrelationId);
      }
      // Returned, not thrown, so the lock's transaction commits refresh_started_at: the row then says a refresh may
      // have reached HubSpot, for whoever refreshes next, in this process or another.
      if (refreshMayHaveReachedHubSpot(error))
        return { kind: 'uncertain', error: error instanceof Error ? error : new AppError('HUBSPOT_UNAVAILABLE', { cause: error }) };
      throw error;
    }
    const tokens: RefreshedTokens = {
      accessToken: answer.access_token,
      // HubSpot may rotate the refresh token; keep whichever it sent.
      refreshToken: answer.refresh_token,
      // Counted from before the call: HubSpot's clock started somewhere between sending and this answer, and a slow
      // answer (or a busy event loop) must not make us believe a token lives longer than it does.
      accessTokenExpiresAt: new Date(sentAt + answer.expires_in * 1000),
    };
    // Kept until the commit is known to have happened (refresh() clears it), so a failed commit loses nothing.
    unsaved.set(portalId, { tokens, sentRefreshToken: current.refreshToken, sentAt });
    await locked.saveRefreshedTokens(portalId, tokens, now());
    options.log.info({ portalId, expiresInSeconds: answer.expires_in }, 'install token refreshed');
    return { kind: 'token', accessToken: tokens.accessToken };
  }

  async function refresh(portalId: number): Promise<string> {
    let refused: string | undefined;
    const uncertain: Error[] = [];
    for (let passes = 1; ; passes += 1) {
      // Every pass takes the lock afresh and re-reads the row. A revoked grant or an uncertain call is returned, not
      // thrown, because throwing inside would roll back what the pass wrote on PostgreSQL.
      let outcome: Pass;
      try {
        outcome = await options.installations.withRefreshLock(portalId, (locked) => pass(locked, portalId, refused));
      } catch (error) {
        if (!unsaved.has(portalId) || error instanceof AppError) throw error;
        options.log.warn({ portalId }, 'new install token could not be saved; kept in memory and saved by the next refresh');
        throw new AppError('DATABASE_UNAVAILABLE', { message: 'Viewer Guard could not save the new HubSpot token to its database.', cause: error });
      }
      // The lock committed: whatever this pass received from HubSpot is in the database now.
      unsaved.delete(portalId);
      if (outcome.kind === 'token') return outcome.accessToken;
      if (outcome.kind === 'revoked') throw new AppError('INSTALL_NEEDS_REPAIR');
      if (outcome.kind === 'uncertain') uncertain.push(outcome.error);
      if (outcome.kind === 'refused') {
        options.log.warn(
          { portalId, hubspotCorrelationId: outcome.hubspotCorrelationId },
          'refresh token refused right after an uncertain refresh; re-reading',
        );
        refused = outcome.refreshToken;
      }
      if (passes >= MAX_PASSES || uncertain.length >= MAX_UNCERTAIN) {
        throw uncertain.at(-1) ?? new AppError('HUBSPOT_UNAVAILABLE');
      }
    }
  }

  return {
    async accessTokenFor(portalId, deadline) {
      // Unsaved tokens go through refresh() whatever the row says: saving them may be what brings the install back.
      if (!unsaved.has(portalId)) {
        const installation = usable(await options.installations.get(portalId));
        if (isFresh(installation)) return installation.accessToken;
      }
      let pending = inFlight.get(portalId);
      if (pending === undefined) {
        pending = refresh(portalId).finally(() => inFlight.delete(portalId));
        inFlight.set(portalId, pending);
      }
      return deadline.wait(pending, 'Renewing the HubSpot access token took too long');
    },
  };
}
