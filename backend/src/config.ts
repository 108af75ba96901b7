import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The whole runtime configuration, read once at start from the environment and the app's app-hsmeta.json. Every
 * value is validated here so a bad deployment stops with one clear line per problem instead of failing on first use.
 */

/**
 * The app's own configuration, as uploaded to HubSpot with `hs project upload` and deployed with the backend. The
 * scopes come from here and nowhere else: HubSpot installs only when the install URL's `scope` holds the app's
 * required scopes and its `optional_scope` the optional ones ("App scope types",
 * https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/scopes), so a second list
 * kept by the backend could only drift into installs that fail.
 */
export const APP_CONFIG_FILE = new URL('../../hubspot-project/app/app-hsmeta.json', import.meta.url);
const APP_CONFIG_NAME = 'hubspot-project/app/app-hsmeta.json';

// Scopes travel space-separated in the install URL, so a name with a space in it would silently become two.
const scopeList = z.array(z.string().regex(/^\S+$/, 'must be a scope name without spaces'));

const appConfigSchema = z.object({
  config: z.object({
    auth: z.object({
      requiredScopes: scopeList.min(1, 'must name at least one scope'),
      optionalScopes: scopeList.default([]),
      // The backend builds one install URL for every account; it has no rule for which accounts a scope is required in.
      conditionallyRequiredScopes: z
        .array(z.string())
        .max(0, 'must be empty: the install URL asks for requiredScopes and optionalScopes only; move these scopes to one of them')
        .default([]),
    }),
  }),
});

const DEFAULT_DATABASE_URL = 'sqlite:./data/viewer-guard.db';

const KEY_FORMAT = 'must be 32 bytes, as 64 hex characters or base64';

const csv = z.string().transform((value) => value.split(/[\s,]+/).filter((item) => item.length > 0));

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HUBSPOT_CLIENT_ID: z.string({ error: "is required (the app's client id from HubSpot)" }).min(1, 'must not be empty'),
  HUBSPOT_CLIENT_SECRET: z.string({ error: "is required (the app's client secret from HubSpot)" }).min(1, 'must not be empty'),
  HUBSPOT_APP_ID: z.string().regex(/^\d+$/, 'must be the numeric app id').transform(Number).optional(),
  PUBLIC_BASE_URL: httpUrl.optional().transform((value) => value?.replace(/\/+$/, '')),
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const key = decodeKey(value);
      if (key === undefined) {
        ctx.addIssue({ code: 'custom', message: KEY_FORMAT });
        return z.NEVER;
      }
      return [key];
    }),
  TOKEN_ENCRYPTION_KEYS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const listed = value.split(',').map((item) => item.trim());
      const keys = listed.map(decodeKey);
      // Positions, never values: these are secrets.
      const bad = keys.flatMap((key, index) => (key === undefined ? [index + 1] : []));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `key ${bad.join(', ')} of ${listed.length}: ${KEY_FORMAT}, keys separated by commas, newest first` });
        return z.NEVER;
      }
      const valid = keys.filter((key) => key !== undefined);
      if (new Set(valid.map((key) => key.toString('hex'))).size !== valid.length) {
        ctx.addIssue({ code: 'custom', message: 'lists the same key twice' });
        return z.NEVER;
      }
      return valid;
    }),
  DATABASE_URL: z
    .string()
    .default(DEFAULT_DATABASE_URL)
    .refine((value) => /^(sqlite:|postgres(ql)?:\/\/)/.test(value), {
      error: 'must start with sqlite: or postgres://',
    }),
  // Never echoed: the URL may hold a password.
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  ACCESS_SOURCE: z.enum(['auto', 'hubspot', 'policy']).default('auto'),
  ALLOW_CARD_IDENTITY: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
  HUBSPOT_API_BASE_URL: httpUrl.default('https://api.hubapi.com').transform((value) => value.replace(/\/+$/, '')),
  HUBSPOT_AUTHORIZE_URL: httpUrl.default('https://app.hubspot.com/oauth/authorize'),
  CORS_ORIGINS: csv.default([]),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TOKEN_REFRESH_MARGIN_SECONDS: z.coerce.number().int().min(0).max(1500).default(300),
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  VIEWER_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  // Hours between scheduled calibrations of each installed account; 0 turns the schedule off (on demand still works).
  CALIBRATION_INTERVAL_HOURS: z.coerce
    .number()
    .min(0, 'must be 0 (off) or more hours')
    .max(24 * 30, 'must be at most 720 hours (30 days)')
    .default(24),
  // The share of each HubSpot window calibration may use; cards keep the rest (hubspot/scheduler.ts CallOwner.share).
  CALIBRATION_BUDGET_SHARE: z.coerce
    .number()
    // HubSpot's search lane allows 5 calls a second and calibration takes whole calls, at least one per window: a share
    // below a fifth would still take a fifth of it, more than the share it states.
    .min(0.2, "must be at least 0.2: calibration takes at least one of the search lane's 5 calls a second")
    .max(0.5, "must be at most 0.5, so cards keep half of HubSpot's budget")
    .default(0.2),
  // Never echoed: a secret. Long enough that guessing is hopeless (openssl rand -hex 32 gives 64 characters).
  METRICS_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters (openssl rand -hex 32)')
    .regex(/^[A-Za-z0-9._~+/=-]+$/, 'must be a bearer token: letters, digits and -._~+/= only')
    .optional(),
});

/** A variable an operator may still set from an earlier version: refused, so nobody believes it still takes effect. */
function retiredProblems(env: Record<string, string>): string[] {
  if (env.OPTIONAL_SCOPES === undefined) return [];
  return [
    `OPTIONAL_SCOPES: is no longer read; the scopes come from ${APP_CONFIG_NAME} (auth.requiredScopes and auth.optionalScopes), which HubSpot requires the install URL to match. Remove the variable; to change the scopes, edit that file and run hs project upload`,
  ];
}

/** The app's scopes, or the problems that stop the start, each naming the file and the field. */
function readAppScopes(file: URL): { scopes: { required: string[]; optional: string[] } } | { problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { problems: [`${APP_CONFIG_NAME}: cannot be read as JSON (${error instanceof Error ? error.message : String(error)})`] };
  }
  const parsed = appConfigSchema.safeParse(json);
  if (!parsed.success) return { problems: parsed.error.issues.map((issue) => `${APP_CONFIG_NAME}: ${issue.path.join('.')}: ${issue.message}`) };
  const { requiredScopes, optionalScopes } = parsed.data.config.auth;
  return { scopes: { required: requiredScopes, optional: optionalScopes } };
}

/** A shared budget needs instances to share it; SQLite serves from one process, which paces itself. */
function redisProblems(env: Record<string, string>): string[] {
  if (env.REDIS_URL === undefined || /^postgres(ql)?:\/\//.test(env.DATABASE_URL ?? '')) return [];
  return [
    'REDIS_URL: is used only with DATABASE_URL=postgres://... (several instances); SQLite serves from one process, whose own scheduler paces HubSpot calls',
  ];
}

/** Two ways to say the keys: one at a time, so nobody has to guess which one wins. */
function keyProblems(env: Record<string, string>): string[] {
  if (env.TOKEN_ENCRYPTION_KEY === undefined || env.TOKEN_ENCRYPTION_KEYS === undefined) return [];
  return [
    'TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS: set only one; TOKEN_ENCRYPTION_KEYS lists every key, newest first (TOKEN_ENCRYPTION_KEYS=<new>,<old>)',
  ];
}

/** Checked on the raw environment so they are reported together with every other problem, not after them. */
function productionProblems(env: Record<string, string>): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  if (env.TOKEN_ENCRYPTION_KEY === undefined && env.TOKEN_ENCRYPTION_KEYS === undefined) {
    problems.push(
      'TOKEN_ENCRYPTION_KEY: is required when NODE_ENV=production (32 random bytes: `openssl rand -hex 32`; or TOKEN_ENCRYPTION_KEYS, newest first, while rotating)',
    );
  }
  if (env.PUBLIC_BASE_URL === undefined) {
    problems.push('PUBLIC_BASE_URL: is required when NODE_ENV=production (the https URL HubSpot calls, e.g. https://viewer-guard.example.com)');
  }
  if (env.HUBSPOT_APP_ID === undefined) {
    problems.push("HUBSPOT_APP_ID: is required when NODE_ENV=production (the app id on the app's page in your HubSpot developer account)");
  }
  if (env.ALLOW_CARD_IDENTITY === 'true') {
    problems.push('ALLOW_CARD_IDENTITY: must not be true when NODE_ENV=production (it lets the card name its own viewer; it is for hs project dev only)');
  }
  return problems;
}

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  hubspot: {
    clientId: string;
    clientSecret: string;
    appId: number | undefined;
    apiBaseUrl: string;
    authorizeUrl: string;
    requiredScopes: readonly string[];
    optionalScopes: readonly string[];
  };
  /**
   * The URL HubSpot and browsers use to reach us. Signatures are checked against it, never against the
   * request's Host header, which a client controls. Outside production it defaults to http://localhost:PORT.
   */
  publicBaseUrl: string;
  /**
   * The keys tokens are sealed with at rest, newest first: the newest seals, every one opens (TOKEN_ENCRYPTION_KEYS, or
   * TOKEN_ENCRYPTION_KEY alone). undefined means "not configured": runtime.ts decides whether a local development key
   * may be generated.
   */
  tokenEncryptionKeys: Buffer[] | undefined;
  databaseUrl: string;
  /** Where the instances keep HubSpot's budget per account instead of PostgreSQL (optional); holds a password at times. */
  redisUrl: string | undefined;
  accessSource: 'auto' | 'hubspot' | 'policy';
  /**
   * Development only (refused with NODE_ENV=production): when HubSpot's identity parameters are absent, as behind
   * `hs project dev`'s proxy, the card's own `vgPortalId` / `vgUserId` name the viewer (hubspot/identity.ts).
   */
  allowCardIdentity: boolean;
  corsOrigins: string[];
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  tokenRefreshMarginMs: number;
  auditRetentionMs: number;
  /** How long a viewer's HubSpot profile (teams, owner id, Super Admin) is reused before asking HubSpot again. */
  viewerCacheTtlMs: number;
  /** The bearer token GET /metrics asks for; undefined: /metrics answers 404, as if it did not exist. */
  metricsToken: string | undefined;
  /** Scheduled calibration: every `intervalMs` per account (null: off), within `budgetShare` of each HubSpot window. */
  calibration: { intervalMs: number | null; budgetShare: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `appConfigFile` is the app's app-hsmeta.json; only tests name another one. */
export function loadConfig(env: Record<string, string | undefined>, appConfigFile: URL = APP_CONFIG_FILE): Config {
  // Empty strings behave as unset, so `FOO=` in a .env file does not turn into a confusing validation error.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const app = readAppScopes(appConfigFile);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`)),
    ...keyProblems(cleaned as Record<string, string>),
    ...productionProblems(cleaned as Record<string, string>),
    ...retiredProblems(cleaned as Record<string, string>),
    ...redisProblems(cleaned as Record<string, string>),
    ...('problems' in app ? app.problems : []),
  ];
  if (!parsed.success || 'problems' in app || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    hubspot: {
      clientId: e.HUBSPOT_CLIENT_ID,
      clientSecret: e.HUBSPOT_CLIENT_SECRET,
      appId: e.HUBSPOT_APP_ID,
      apiBaseUrl: e.HUBSPOT_API_BASE_URL,
      authorizeUrl: e.HUBSPOT_AUTHORIZE_URL,
      requiredScopes: app.scopes.required,
      optionalScopes: app.scopes.optional,
    },
    publicBaseUrl: e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`,
    tokenEncryptionKeys: e.TOKEN_ENCRYPTION_KEYS ?? e.TOKEN_ENCRYPTION_KEY,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    accessSource: e.ACCESS_SOURCE,
    allowCardIdentity: e.ALLOW_CARD_IDENTITY,
    corsOrigins: e.CORS_ORIGINS,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    tokenRefreshMarginMs: e.TOKEN_REFRESH_MARGIN_SECONDS * 1000,
    auditRetentionMs: e.AUDIT_RETENTION_DAYS * 24 * 60 * 60 * 1000,
    viewerCacheTtlMs: e.VIEWER_CACHE_TTL_SECONDS * 1000,
    metricsToken: e.METRICS_TOKEN,
    calibration: {
      intervalMs: e.CALIBRATION_INTERVAL_HOURS === 0 ? null : Math.round(e.CALIBRATION_INTERVAL_HOURS * 60 * 60 * 1000),
      budgetShare: e.CALIBRATION_BUDGET_SHARE,
    },
  };
}

/** Accepts the two encodings operators actually produce (`openssl rand -hex 32` / `-base64 32`). */
export function decodeKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  return key.length === 32 ? key : undefined;
}
