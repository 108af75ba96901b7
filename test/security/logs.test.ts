import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubSpotHttpError } from '../../backend/src/hubspot/http-error.js';
import { loggerOptions } from '../../backend/src/logging.js';
import { installThroughHubSpot } from '../../scripts/lib/install-flow.js';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { signedRequest } from '../support/signing.js';

const account = loadSeed().accounts[0]!;
const superAdmin = account.users.find((user) => user.superAdmin && !user.deactivated)!;

/** Strings that no log line may contain whatever a request carries: the app secret and any query string's identity. */
const ALWAYS_SECRET = [TEST_APP.clientSecret, 'userId=', 'portalId='];

/** Sends bytes over a real socket (inject() never reaches Node's parser, so it cannot produce a client error). */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('logs at trace level carry no secrets', () => {
  const lines: string[] = [];
  let harness: Harness;
  let port: number;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    harness = await startHarness({ logger: pino(loggerOptions('trace'), sink) });
    port = Number(new URL(harness.backendUrl).port);
    await harness.installDirect(account.portalId, superAdmin.id);
  });
  afterAll(async () => harness.close());
  beforeEach(() => {
    lines.length = 0;
  });

  /**
   * Every line as text a secret could be found in: pino writes a Buffer (such as Node's rawPacket) as
   * {"type":"Buffer","data":[71,69,84,...]}, which a plain search would never match, so those are decoded too.
   */
  function searchable(line: string): string {
    const decoded = JSON.parse(line, (_key, value: unknown) =>
      typeof value === 'object' && value !== null && 'type' in value && value.type === 'Buffer' && 'data' in value && Array.isArray(value.data)
        ? Buffer.from(value.data as number[]).toString('latin1')
        : value,
    ) as unknown;
    return `${line}\n${JSON.stringify(decoded)}`;
  }

  function expectClean(secrets: string[]): void {
    expect(lines.length).toBeGreaterThan(0);
    const texts = lines.map(searchable);
    for (const secret of [...ALWAYS_SECRET, ...secrets]) {
      expect(secret.length).toBeGreaterThan(4);
      // Only a short excerpt on failure: a leaked packet is 40 KB.
      const leaks = texts.filter((text) => text.includes(secret)).map((text) => text.slice(Math.max(0, text.indexOf(secret) - 80), text.indexOf(secret) + 80));
      expect(leaks, `log lines containing ${JSON.stringify(secret)}`).toEqual([]);
    }
    expect(lines.filter((line) => /"rawPacket":(?!"\[redacted\]")/.test(line)).map((line) => line.slice(0, 200))).toEqual([]);
  }

  function signed(path: string): ReturnType<typeof signedRequest> {
    return signedRequest({ clientSecret: TEST_APP.clientSecret, publicBaseUrl: harness.backendUrl, method: 'GET', path, timestamp: Date.now() });
  }

  function rawRequest(path: string, headers: Record<string, string>, extra = ''): string {
    const lines = Object.entries({ host: `127.0.0.1:${port}`, ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
    return `GET ${path} HTTP/1.1\r\n${lines.join('')}${extra}\r\n`;
  }

  it('answers a signed request with a 40 KB query string 431 in our error shape, and logs none of it', async () => {
    const request = signed(`/api/v1/me?portalId=${account.portalId}&userId=${superAdmin.id}&pad=${'p'.repeat(40 * 1024)}`);
    const cookie = 'vg_oauth_state=cookie-nonce-31337';
    const answer = await rawHttp(port, rawRequest(request.url, { ...request.headers, cookie, authorization: 'Bearer bearer-token-31337' }));

    expect(answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; correlationId: string } };
    expect(body.error).toMatchObject({ code: 'VALIDATION_FAILED', correlationId: expect.any(String) });
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ clientError: 'HPE_HEADER_OVERFLOW', status: 431, correlationId: body.error.correlationId }));
    expectClean([request.headers['x-hubspot-signature-v3']!, 'cookie-nonce-31337', 'bearer-token-31337', 'pppppppp']);
  });

  it('answers a malformed signed request 400, and logs none of it', async () => {
    const request = signed(`/api/v1/me?portalId=${account.portalId}&userId=${superAdmin.id}`);
    const answer = await rawHttp(port, rawRequest(request.url, request.headers, 'not a header line\r\n'));

    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ status: 400, clientError: expect.any(String) }),
    );
    expectClean([request.headers['x-hubspot-signature-v3']!]);
  });

  it('logs signed API requests, accepted or refused, by path and identity fields only', async () => {
    const query = `?portalId=${account.portalId}&userId=${superAdmin.id}`;
    const accepted = signed(`/api/v1/me${query}`);
    const overSocket = await fetch(`${harness.backendUrl}${accepted.url}`, { headers: { ...accepted.headers, cookie: 'session=cookie-value-4711' } });
    expect(overSocket.status).toBe(200);
    const injected = await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: superAdmin.id });
    expect(injected.statusCode).toBe(200);
    const tampered = signed(`/api/v1/me${query}`);
    const refused = await fetch(`${harness.backendUrl}/api/v1/me?portalId=${account.portalId}&userId=${superAdmin.id + 1}`, { headers: tampered.headers });
    expect(refused.status).toBe(401);
    const missing = signed(`/api/v1/no-such-route${query}`);
    expect((await fetch(`${harness.backendUrl}${missing.url}`, { headers: missing.headers })).status).toBe(404);

    expect(lines.some((line) => line.includes('"path":"/api/v1/me"'))).toBe(true);
    expectClean([
      accepted.headers['x-hubspot-signature-v3']!,
      tampered.headers['x-hubspot-signature-v3']!,
      missing.headers['x-hubspot-signature-v3']!,
      'cookie-value-4711',
    ]);
  });

  it('logs the OAuth install, a replay and a forged state without their code, state, cookie or tokens', async () => {
    const installed = await installThroughHubSpot({ backendUrl: harness.backendUrl, userId: superAdmin.id });
    expect(installed.status).toBe(200);
    const { searchParams } = new URL(installed.finalUrl);
    const code = searchParams.get('code')!;
    const state = searchParams.get('state')!;
    const replay = await fetch(installed.finalUrl, { headers: { cookie: installed.cookie } });
    expect(replay.status).toBe(400);
    const forged = await fetch(`${harness.backendUrl}/oauth/callback?code=forged-code-0815&state=${encodeURIComponent(`${state}x`)}`, {
      headers: { cookie: installed.cookie },
    });
    expect(forged.status).toBe(400);
    const installation = (await harness.installations.get(account.portalId))!;

    expect(lines.some((line) => line.includes('"path":"/oauth/callback"'))).toBe(true);
    expectClean([code, state, ...state.split('.'), installed.cookie.split('=')[1]!, 'forged-code-0815', installation.accessToken, installation.refreshToken]);
  });

  it('logs an error by type, message, stack and code only: never the headers, body or packet it carries', async () => {
    const hubspot = new HubSpotHttpError(400, { 'set-cookie': 'hs-cookie-2718' }, { message: 'bad code', echoed: 'token-body-2718' });
    const parser = Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from('GET /?userId=2 HTTP/1.1') });
    const wrapped = new Error('exchange failed', { cause: hubspot });
    harness.app.log.trace({ err: hubspot }, 'hubspot failed');
    harness.app.log.trace({ err: parser }, 'parser failed');
    harness.app.log.trace({ error: wrapped, url: '/oauth/callback?code=query-code-2718' }, 'wrapped failed');

    const logged = lines.map((line) => JSON.parse(line) as { err?: Record<string, unknown>; error?: Record<string, unknown> });
    expect(logged.map((line) => line.err ?? line.error)).toEqual([
      { type: 'HubSpotHttpError', message: 'HubSpot answered HTTP 400', stack: expect.any(String), status: 400 },
      { type: 'Error', message: 'Parse Error: Header overflow', stack: expect.any(String), code: 'HPE_HEADER_OVERFLOW' },
      { type: 'Error', message: 'exchange failed: HubSpot answered HTTP 400', stack: expect.any(String) },
    ]);
    expectClean(['hs-cookie-2718', 'token-body-2718', 'query-code-2718']);
  });
});
