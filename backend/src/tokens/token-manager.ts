import { AppError } from '../errors.js';
import type { Deadline } from '../hubspot/deadline.js';
import { InvalidGrantError, type OAuthClient } from '../hubspot/oauth.js';
import type { Installation, InstallationStore } from '../store/index.js';

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

type RefreshOutcome = { kind: 'token'; accessToken: string } | { kind: 'revoked' };

/**
 * The account's install token, refreshed ahead of expiry (by expires_in, not on a 401). One refresh per account
 * at a time: concurrent callers in this process share one promise, and across processes the store's refresh
 * lock serialises them; whoever gets the lock second re-reads the row and finds the fresh token.
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const inFlight = new Map<number, Promise<string>>();

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

  async function refresh(portalId: number): Promise<string> {
    // The lock's transaction commits whatever fn returns, so a revoked grant is reported as a value and thrown
    // afterwards; throwing inside would roll back the needs_reinstall mark.
    const outcome = await options.installations.withRefreshLock(portalId, async (locked): Promise<RefreshOutcome> => {
      const current = usable(await locked.get(portalId));
      if (isFresh(current)) return { kind: 'token', accessToken: current.accessToken };
      try {
        const tokens = await options.oauth.refresh(portalId, current.refreshToken);
        await locked.saveRefreshedTokens(
          portalId,
          {
            accessToken: tokens.access_token,
            // HubSpot may rotate the refresh token; keep whichever it sent.
            refreshToken: tokens.refresh_token,
            accessTokenExpiresAt: new Date(options.now() + tokens.expires_in * 1000),
          },
          new Date(options.now()),
        );
        options.log.info({ portalId, expiresInSeconds: tokens.expires_in }, 'install token refreshed');
        return { kind: 'token', accessToken: tokens.access_token };
      } catch (error) {
        if (!(error instanceof InvalidGrantError)) throw error;
        await locked.markStatus(
          portalId,
          'needs_reinstall',
          'HubSpot refused the refresh token: the app was uninstalled or its access was revoked.',
          new Date(options.now()),
        );
        options.log.warn({ portalId, hubspotCorrelationId: error.hubspotCorrelationId }, 'refresh token refused; install marked needs_reinstall');
        return { kind: 'revoked' };
      }
    });
    if (outcome.kind === 'revoked') throw new AppError('INSTALL_NEEDS_REPAIR');
    return outcome.accessToken;
  }

  return {
    async accessTokenFor(portalId, deadline) {
      const installation = usable(await options.installations.get(portalId));
      if (isFresh(installation)) return installation.accessToken;
      let pending = inFlight.get(portalId);
      if (pending === undefined) {
        pending = refresh(portalId).finally(() => inFlight.delete(portalId));
        inFlight.set(portalId, pending);
      }
      return deadline.wait(pending, 'Renewing the HubSpot access token took too long');
    },
  };
}
