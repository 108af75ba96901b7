import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_CONFIG_FILE, ConfigError, loadConfig } from '../../backend/src/config.js';

const minimal = { HUBSPOT_CLIENT_ID: 'client', HUBSPOT_CLIENT_SECRET: 'secret' };

function problems(env: Record<string, string>, appConfigFile?: URL): string[] {
  try {
    loadConfig(env, appConfigFile);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.databaseUrl).toBe('sqlite:./data/viewer-guard.db');
    expect(config.accessSource).toBe('auto');
    expect(config.hubspot.apiBaseUrl).toBe('https://api.hubapi.com');
    expect(config.hubspot.authorizeUrl).toBe('https://app.hubspot.com/oauth/authorize');
    expect(config.corsOrigins).toEqual([]);
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.tokenRefreshMarginMs).toBe(300_000);
  });

  it('reports every problem at once, one line each, naming the variable', () => {
    const lines = problems({
      PUBLIC_BASE_URL: 'ftp://example.com',
      TOKEN_ENCRYPTION_KEY: 'short',
      PORT: '70000',
      DATABASE_URL: 'mysql://x',
      ACCESS_SOURCE: 'maybe',
    });
    expect(lines).toHaveLength(7);
    for (const name of ['HUBSPOT_CLIENT_ID', 'HUBSPOT_CLIENT_SECRET', 'PUBLIC_BASE_URL', 'TOKEN_ENCRYPTION_KEY', 'PORT', 'DATABASE_URL', 'ACCESS_SOURCE']) {
      expect(lines.filter((line) => line.startsWith(`${name}:`))).toHaveLength(1);
    }
  });

  it('schedules calibration daily within a fifth of the budget by default; 0 hours turns the schedule off; out-of-range values are one line each', () => {
    expect(loadConfig(minimal).calibration).toEqual({ intervalMs: 24 * 60 * 60 * 1000, budgetShare: 0.2 });
    expect(loadConfig({ ...minimal, CALIBRATION_INTERVAL_HOURS: '0', CALIBRATION_BUDGET_SHARE: '0.3' }).calibration).toEqual({
      intervalMs: null,
      budgetShare: 0.3,
    });
    const lines = problems({ ...minimal, CALIBRATION_INTERVAL_HOURS: '-1', CALIBRATION_BUDGET_SHARE: '0.9' });
    expect(lines).toEqual([
      'CALIBRATION_INTERVAL_HOURS: must be 0 (off) or more hours',
      "CALIBRATION_BUDGET_SHARE: must be at most 0.5, so cards keep half of HubSpot's budget",
    ]);
    expect(problems({ ...minimal, CALIBRATION_BUDGET_SHARE: '0.1' })).toEqual([
      "CALIBRATION_BUDGET_SHARE: must be at least 0.2: calibration takes at least one of the search lane's 5 calls a second",
    ]);
  });

  it('requires an encryption key, a public URL and the app id in production', () => {
    const lines = problems({ ...minimal, NODE_ENV: 'production' });
    expect(lines).toEqual([
      expect.stringMatching(/^TOKEN_ENCRYPTION_KEY: is required when NODE_ENV=production/),
      expect.stringMatching(/^PUBLIC_BASE_URL: is required when NODE_ENV=production/),
      expect.stringMatching(/^HUBSPOT_APP_ID: is required when NODE_ENV=production/),
    ]);
  });

  it('allows card-supplied identity only when asked for, and refuses it together with production in one line', () => {
    expect(loadConfig(minimal).allowCardIdentity).toBe(false);
    expect(loadConfig({ ...minimal, ALLOW_CARD_IDENTITY: 'true' }).allowCardIdentity).toBe(true);
    expect(problems({ ...minimal, ALLOW_CARD_IDENTITY: 'yes' })).toEqual(['ALLOW_CARD_IDENTITY: must be true or false']);
    const production = {
      ...minimal,
      NODE_ENV: 'production',
      TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
      PUBLIC_BASE_URL: 'https://vg.example.com',
      HUBSPOT_APP_ID: '4242',
    };
    expect(loadConfig(production).allowCardIdentity).toBe(false);
    expect(problems({ ...production, ALLOW_CARD_IDENTITY: 'true' })).toEqual([
      'ALLOW_CARD_IDENTITY: must not be true when NODE_ENV=production (it lets the card name its own viewer; it is for hs project dev only)',
    ]);
  });

  it('accepts the key as hex or base64 and trims the public URL', () => {
    const hex = 'ab'.repeat(32);
    const config = loadConfig({ ...minimal, TOKEN_ENCRYPTION_KEY: hex, PUBLIC_BASE_URL: 'https://vg.example.com/' });
    expect(config.tokenEncryptionKeys?.map((key) => key.toString('hex'))).toEqual([hex]);
    expect(config.publicBaseUrl).toBe('https://vg.example.com');
    const base64 = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ ...minimal, TOKEN_ENCRYPTION_KEY: base64 }).tokenEncryptionKeys).toEqual([Buffer.alloc(32, 7)]);
  });

  it('reads TOKEN_ENCRYPTION_KEYS newest first, in either encoding, and refuses it together with TOKEN_ENCRYPTION_KEY', () => {
    const newest = 'cd'.repeat(32);
    const older = Buffer.alloc(32, 9).toString('base64');
    expect(loadConfig({ ...minimal, TOKEN_ENCRYPTION_KEYS: ` ${newest} , ${older}` }).tokenEncryptionKeys).toEqual([
      Buffer.from(newest, 'hex'),
      Buffer.alloc(32, 9),
    ]);
    expect(problems({ ...minimal, TOKEN_ENCRYPTION_KEY: newest, TOKEN_ENCRYPTION_KEYS: `${newest},${older}` })).toEqual([
      'TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS: set only one; TOKEN_ENCRYPTION_KEYS lists every key, newest first (TOKEN_ENCRYPTION_KEYS=<new>,<old>)',
    ]);
    expect(problems({ ...minimal, TOKEN_ENCRYPTION_KEYS: `${newest},not-a-key,` })).toEqual([
      'TOKEN_ENCRYPTION_KEYS: key 2, 3 of 3: must be 32 bytes, as 64 hex characters or base64, keys separated by commas, newest first',
    ]);
    expect(problems({ ...minimal, TOKEN_ENCRYPTION_KEYS: `${newest},${newest}` })).toEqual(['TOKEN_ENCRYPTION_KEYS: lists the same key twice']);
    const production = { ...minimal, NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://vg.example.com', HUBSPOT_APP_ID: '4242' };
    expect(loadConfig({ ...production, TOKEN_ENCRYPTION_KEYS: `${newest},${older}` }).tokenEncryptionKeys).toHaveLength(2);
  });

  it('treats empty values as unset and parses lists', () => {
    const config = loadConfig({ ...minimal, DATABASE_URL: '', CORS_ORIGINS: 'https://a.example, https://b.example', HUBSPOT_APP_ID: '123' });
    expect(config.databaseUrl).toBe('sqlite:./data/viewer-guard.db');
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.hubspot.appId).toBe(123);
  });

  it('never echoes a secret value in its messages', () => {
    const lines = problems({ HUBSPOT_CLIENT_ID: 'client', HUBSPOT_CLIENT_SECRET: 'secret', TOKEN_ENCRYPTION_KEY: 'super-secret-but-wrong' });
    expect(lines.join('\n')).not.toContain('super-secret-but-wrong');
    const listed = problems({ ...minimal, TOKEN_ENCRYPTION_KEYS: `${'ab'.repeat(32)},another-secret-but-wrong` });
    expect(listed.join('\n')).not.toMatch(/another-secret|abab/);
  });

  it('takes an optional REDIS_URL for the instances of a PostgreSQL deployment, never echoing it', () => {
    const postgres = { ...minimal, DATABASE_URL: 'postgres://vg@db:5432/vg' };
    expect(loadConfig(postgres).redisUrl).toBeUndefined();
    expect(loadConfig({ ...postgres, REDIS_URL: 'rediss://:s3cret-pass@cache:6380/2' }).redisUrl).toBe('rediss://:s3cret-pass@cache:6380/2');
    const wrong = problems({ ...postgres, REDIS_URL: 'http://:s3cret-pass@cache:6379' });
    expect(wrong).toEqual(['REDIS_URL: must be a redis:// or rediss:// URL']);
    // SQLite serves from one process: nothing to share a budget with.
    const sqlite = problems({ ...minimal, REDIS_URL: 'redis://:s3cret-pass@cache:6379' });
    expect(sqlite).toEqual([expect.stringMatching(/^REDIS_URL: is used only with DATABASE_URL=postgres/)]);
    expect([...wrong, ...sqlite].join('\n')).not.toContain('s3cret-pass');
  });
});

describe('scopes from app-hsmeta.json', () => {
  const appMeta = JSON.parse(readFileSync(APP_CONFIG_FILE, 'utf8')) as { config: { auth: Record<string, unknown> } };
  const scratch = mkdtempSync(path.join(tmpdir(), 'viewer-guard-config-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let files = 0;
  /** A copy of the app's app-hsmeta.json with `auth` changed, as an operator might edit it. */
  const withAuth = (auth: Record<string, unknown>) => {
    const file = path.join(scratch, `app-${(files += 1)}-hsmeta.json`);
    writeFileSync(file, JSON.stringify({ ...appMeta, config: { ...appMeta.config, auth: { ...appMeta.config.auth, ...auth } } }));
    return pathToFileURL(file);
  };

  it("takes the required and optional scopes from the app's own app-hsmeta.json", () => {
    const config = loadConfig(minimal);
    expect(config.hubspot.requiredScopes).toEqual(appMeta.config.auth.requiredScopes);
    expect(config.hubspot.optionalScopes).toEqual(appMeta.config.auth.optionalScopes);
    const edited = loadConfig(minimal, withAuth({ requiredScopes: ['oauth', 'tickets'], optionalScopes: ['crm.objects.deals.read'] }));
    expect(edited.hubspot).toMatchObject({ requiredScopes: ['oauth', 'tickets'], optionalScopes: ['crm.objects.deals.read'] });
  });

  it('refuses OPTIONAL_SCOPES, saying where the scopes come from now', () => {
    expect(problems({ ...minimal, OPTIONAL_SCOPES: 'crm.objects.deals.read' })).toEqual([
      expect.stringMatching(
        /^OPTIONAL_SCOPES: is no longer read; the scopes come from hubspot-project\/app\/app-hsmeta\.json \(auth\.requiredScopes and auth\.optionalScopes\)/,
      ),
    ]);
  });

  it('stops the start on scopes it cannot put into an install URL, naming the file and the field', () => {
    expect(
      problems(
        minimal,
        withAuth({ requiredScopes: [], optionalScopes: ['crm.objects.deals.read crm.objects.deals.write'], conditionallyRequiredScopes: ['e-commerce'] }),
      ),
    ).toEqual([
      'hubspot-project/app/app-hsmeta.json: config.auth.requiredScopes: must name at least one scope',
      'hubspot-project/app/app-hsmeta.json: config.auth.optionalScopes.0: must be a scope name without spaces',
      expect.stringMatching(/^hubspot-project\/app\/app-hsmeta\.json: config\.auth\.conditionallyRequiredScopes: must be empty/),
    ]);
  });

  it("stops the start when app-hsmeta.json is missing, alongside the environment's problems", () => {
    const lines = problems({ HUBSPOT_CLIENT_ID: 'client' }, pathToFileURL(path.join(scratch, 'missing-hsmeta.json')));
    expect(lines).toEqual([
      expect.stringMatching(/^HUBSPOT_CLIENT_SECRET: /),
      expect.stringMatching(/^hubspot-project\/app\/app-hsmeta\.json: cannot be read as JSON/),
    ]);
  });
});
