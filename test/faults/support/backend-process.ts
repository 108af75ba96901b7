import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../backend/src/config.js';
import { createInstallationStore, openDatabase, TokenCipher } from '../../../backend/src/store/index.js';
import type { FakeHubSpot } from '../../hubspot-fake/index.js';
import { freePort } from '../../support/free-port.js';
import { withHubSpotIdentity } from '../../support/hubspot-fetch.js';
import { TEST_APP } from '../../support/harness.js';
import { signedRequest } from '../../support/signing.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The real backend as a child process (`node --import tsx backend/src/main.ts`, what `npm start` runs), configured only
 * by its environment, so a scenario can kill -9 it, stop its database under it, and start it again on the same data.
 */
export interface BackendProcess {
  url: string;
  port: number;
  env: Record<string, string>;
  /** Everything the process printed (stdout and stderr), across restarts. */
  output(): string;
  /** Resolves with the exit code or signal when the current process ends. */
  exited(): Promise<number | NodeJS.Signals | null>;
  /** Whether the current process is still running. */
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and environment (after a kill), optionally with changed variables. */
  restart(changes?: Record<string, string>): Promise<void>;
}

export interface BackendProcessOptions {
  fakeUrl: string;
  databaseUrl: string;
  /** TOKEN_ENCRYPTION_KEY, base64 (see newTokenKey). */
  tokenKey: string;
  /** More variables (they win). */
  env?: Record<string, string>;
}

export const newTokenKey = (): string => randomBytes(32).toString('base64');

async function waitUntilServing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`backend process exited at start (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`backend process did not serve /healthz within 30 s:\n${output()}`);
}

export async function startBackendProcess(options: BackendProcessOptions): Promise<BackendProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'development',
    HUBSPOT_CLIENT_ID: TEST_APP.clientId,
    HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
    HUBSPOT_APP_ID: String(TEST_APP.appId),
    PUBLIC_BASE_URL: url,
    HUBSPOT_API_BASE_URL: options.fakeUrl,
    HUBSPOT_AUTHORIZE_URL: `${options.fakeUrl}/oauth/authorize`,
    DATABASE_URL: options.databaseUrl,
    TOKEN_ENCRYPTION_KEY: options.tokenKey,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  let log = '';
  let child: ChildProcess;
  let exit: Promise<number | NodeJS.Signals | null>;

  const launch = async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'backend/src/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    const current = child;
    exit = new Promise((resolve) => current.once('exit', (code, signal) => resolve(code ?? signal)));
    await waitUntilServing(url, child, () => log);
  };
  await launch();

  return {
    url,
    port,
    env,
    output: () => log,
    exited: () => exit,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exit;
    },
    async restart(changes = {}) {
      if (child.exitCode === null && child.signalCode === null) throw new Error('restart: the backend process is still running; kill it first');
      Object.assign(env, changes);
      await launch();
    },
  };
}

/** A card request as hubspot.fetch sends it over the network: signed, HubSpot's identity appended. */
export async function cardRequest(
  backend: BackendProcess,
  input: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; portalId: number; userId: number; body?: unknown; timeoutMs?: number },
): Promise<{ status: number; body: string; headers: Headers }> {
  const signed = signedRequest({
    clientSecret: TEST_APP.clientSecret,
    publicBaseUrl: backend.url,
    method: input.method ?? 'GET',
    path: withHubSpotIdentity(input.path, { portalId: input.portalId, userId: input.userId, appId: TEST_APP.appId }),
    body: input.body,
    timestamp: Date.now(),
  });
  // hubspot.fetch gives up after 15 s; so does this client.
  const response = await fetch(`${backend.url}${signed.url}`, {
    method: signed.method,
    headers: signed.headers,
    ...(signed.payload === undefined ? {} : { body: signed.payload }),
    signal: AbortSignal.timeout(input.timeoutMs ?? 15_000),
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/**
 * Installs an account straight into the database the processes use, with tokens the local HubSpot issued: what the
 * OAuth flow stores (that flow has tests of its own).
 */
export async function installDirect(input: {
  databaseUrl: string;
  tokenKey: string;
  fake: FakeHubSpot;
  portalId: number;
  userId: number;
  accessTokenTtlMs?: number;
}): Promise<void> {
  const { hubspot } = loadConfig({
    HUBSPOT_CLIENT_ID: TEST_APP.clientId,
    HUBSPOT_CLIENT_SECRET: TEST_APP.clientSecret,
    DATABASE_URL: input.databaseUrl,
  });
  const database = await openDatabase(input.databaseUrl);
  try {
    const installations = createInstallationStore(database.db, new TokenCipher(Buffer.from(input.tokenKey, 'base64')), database.dialect);
    const tokens = input.fake.tokens.issue(input.portalId, input.userId);
    await installations.saveInstall(
      {
        portalId: input.portalId,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        accessTokenExpiresAt: new Date(Date.now() + (input.accessTokenTtlMs ?? 1800 * 1000)),
        scopes: [...hubspot.requiredScopes],
        installedByUserId: input.userId,
      },
      new Date(),
    );
  } finally {
    await database.close();
  }
}
