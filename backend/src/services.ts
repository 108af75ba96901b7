import type { AppDeps } from './app.js';
import type { Config } from './config.js';
import { createHubSpotApi } from './hubspot/api.js';
import { createDirectory } from './hubspot/directory.js';
import { createOAuthClient } from './hubspot/oauth.js';
import { HubSpotScheduler } from './hubspot/scheduler.js';
import { createAccessService } from './guard/access-service.js';
import { createRecordGuard } from './guard/record-guard.js';
import type { AuditLog, InstallationStore, OAuthStateStore, PolicyStore } from './store/index.js';
import { createTokenManager } from './tokens/token-manager.js';

export interface ServiceLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Per-attempt limit on a HubSpot call; with retries it stays inside hubspot.fetch's 15 s budget. */
const HUBSPOT_REQUEST_TIMEOUT_MS = 5_000;

/** Wires the HubSpot-facing services from configuration and a store: the one place that knows the whole graph. */
export function createServices(input: {
  config: Config;
  installations: InstallationStore;
  oauthStates: OAuthStateStore;
  policies: PolicyStore;
  audit: AuditLog;
  pingDatabase: () => Promise<void>;
  now?: () => number;
  log: ServiceLog;
}): AppDeps {
  const { config } = input;
  const now = input.now ?? Date.now;
  const installUrl = `${config.publicBaseUrl}/`;
  const scheduler = new HubSpotScheduler({
    now,
    onEvent: (event) => input.log.warn({ ...event }, 'hubspot call delayed'),
  });
  const oauth = createOAuthClient({
    apiBaseUrl: config.hubspot.apiBaseUrl,
    clientId: config.hubspot.clientId,
    clientSecret: config.hubspot.clientSecret,
    scheduler,
  });
  const tokens = createTokenManager({
    installations: input.installations,
    oauth,
    refreshMarginMs: config.tokenRefreshMarginMs,
    installUrl,
    now,
    log: input.log,
  });
  const hubspot = createHubSpotApi({
    apiBaseUrl: config.hubspot.apiBaseUrl,
    scheduler,
    tokens,
    requestTimeoutMs: HUBSPOT_REQUEST_TIMEOUT_MS,
    installUrl,
  });
  const directory = createDirectory({ api: hubspot, ttlMs: config.viewerCacheTtlMs, now });
  const access = createAccessService({ mode: config.accessSource, api: hubspot, directory, policies: input.policies, now });
  return {
    policies: input.policies,
    audit: input.audit,
    access,
    guard: createRecordGuard({ api: hubspot, access, audit: input.audit, now }),
    config,
    installations: input.installations,
    oauthStates: input.oauthStates,
    pingDatabase: input.pingDatabase,
    oauth,
    tokens,
    hubspot,
    directory,
    now,
  };
}
