import { Signature } from '@hubspot/api-client';
import Fastify, { type FastifyInstance, type FastifyRequest, type InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeadlines } from '../../backend/src/hubspot/deadline.js';
import { computeSignatureV3, signedUri } from '../../backend/src/hubspot/signature.js';
import { errorHandlerPlugin } from '../../backend/src/plugins/error-handler.js';
import { signedApiPlugin } from '../../backend/src/pipeline/signed-api.js';
import { hubspotSignature, signedRequest } from '../support/signing.js';

const SECRET = 'test-client-secret-0b7c';
const BASE = 'https://viewer-guard.example.com';
const NOW = 1_790_000_000_000;

describe('HubSpot v3 signature', () => {
  it("matches the test vector from HubSpot's own tests", () => {
    const vector = {
      clientSecret: 'f6e94c08-85d0-4608-bcc6-e1850176e7b8',
      method: 'POST',
      uri: 'https://www.hubspot.com/webhook',
      body: 'REQUEST_BODY',
      timestamp: '1632188626483',
    };
    expect(computeSignatureV3(vector)).toBe('jf872r5vscVcxCiDRHA4rGrqe/8BPLNVkdJSHdMnGTU=');
    expect(
      Signature.getSignature('POST', 'v3', {
        signature: '',
        clientSecret: vector.clientSecret,
        requestBody: vector.body,
        url: vector.uri,
        timestamp: Number(vector.timestamp),
      }),
    ).toBe('jf872r5vscVcxCiDRHA4rGrqe/8BPLNVkdJSHdMnGTU=');
  });

  it('decodes exactly the characters HubSpot decodes before signing', () => {
    expect(signedUri(BASE, '/a%3Ab%2Fc%3Fd%40e%21f%24g%27h%28i%29j%2Ak%2Cl%3Bm?q=%3a%20x%26y')).toBe(`${BASE}/a:b/c?d@e!f$g'h(i)j*k,l;m?q=:%20x%26y`);
  });
});

describe('signed-requests plugin', () => {
  let app: FastifyInstance;
  let now = NOW;

  beforeEach(async () => {
    now = NOW;
    app = Fastify();
    await app.register(errorHandlerPlugin, { installUrl: `${BASE}/`, recordRefusal: async () => undefined });
    await app.register(async (api) => {
      await api.register(signedApiPlugin, {
        clientSecret: SECRET,
        publicBaseUrl: BASE,
        appId: 777,
        allowCardIdentity: false,
        recordIdentitySource: () => undefined,
        now: () => now,
        bodyLimitBytes: 1024 * 1024,
        // No write routes here: the exactly-once step is tested through the harness.
        writeRequests: {
          claim: async () => ({ kind: 'claimed' }),
          intend: async () => undefined,
          settle: async () => undefined,
          closeAbandoned: async () => 0,
          purgeOlderThan: async () => 0,
        },
        deadlines: createDeadlines(),
        // The viewer step is the harness's business; here it only has to let the signed identity through.
        resolveViewer: async (identity) => ({
          viewer: {
            portalId: identity.portalId,
            userId: identity.userId,
            email: 'someone@example.com',
            firstName: undefined,
            lastName: undefined,
            superAdmin: false,
            roleIds: [],
            ownerId: null,
            teams: [],
          },
          portal: { portalId: identity.portalId } as never,
        }),
      });
      const echo = async (request: FastifyRequest) => ({ identity: request.identity, body: request.body ?? null });
      const viewer = { config: { auth: 'viewer' as const } };
      api.get('/api/v1/echo', viewer, echo);
      api.get('/api/v1/other', viewer, echo);
      api.post('/api/v1/echo', viewer, echo);
      api.put('/api/v1/echo', viewer, echo);
      api.get('/api/v1/a:b', viewer, echo);
    });
  });
  afterEach(async () => app.close());

  const sign = (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, timestamp = NOW) =>
    signedRequest({ clientSecret: SECRET, publicBaseUrl: BASE, method, path, body, timestamp });

  it("accepts a GET signed with HubSpot's code and reads the identity from the signed query", async () => {
    // HubSpot signs the URL with %40 decoded, and sends it encoded.
    const headers = hubspotSignature({
      clientSecret: SECRET,
      method: 'GET',
      url: `${BASE}/api/v1/echo?portalId=42&userId=7&appId=777&userEmail=ana@example.com`,
      timestamp: NOW,
    });
    const response = await app.inject({ method: 'GET', url: '/api/v1/echo?portalId=42&userId=7&appId=777&userEmail=ana%40example.com', headers });
    expect(response.statusCode).toBe(200);
    expect(response.json().identity).toEqual({ portalId: 42, userId: 7, appId: 777, userEmail: 'ana@example.com', source: 'hubspot' });
  });

  it('accepts a signed POST and never takes identity from the body', async () => {
    const response = await app.inject(sign('POST', '/api/v1/echo?portalId=42&userId=7', { userId: 1, portalId: 1 }));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      identity: { portalId: 42, userId: 7, appId: undefined, userEmail: undefined, source: 'hubspot' },
      body: { userId: 1, portalId: 1 },
    });
  });

  it("accepts an identity parameter repeated with the same value, and the card's names next to HubSpot's when they agree", async () => {
    const response = await app.inject(sign('GET', '/api/v1/echo?vgPortalId=42&vgUserId=7&portalId=42&userId=7&portalId=42'));
    expect(response.statusCode).toBe(200);
    expect(response.json().identity).toMatchObject({ portalId: 42, userId: 7, source: 'hubspot' });
  });

  it('accepts a path HubSpot signed in decoded form', async () => {
    const path = '/api/v1/a%3Ab?portalId=42&userId=7';
    const headers = hubspotSignature({ clientSecret: SECRET, method: 'GET', url: `${BASE}/api/v1/a:b?portalId=42&userId=7`, timestamp: NOW });
    const response = await app.inject({ method: 'GET', url: path, headers });
    expect(response.statusCode).toBe(200);
  });

  const refusals: Array<[string, string, () => InjectOptions]> = [
    ['tampered method', 'SIGNATURE_INVALID', () => ({ ...sign('POST', '/api/v1/echo?portalId=42&userId=7', { a: 1 }), method: 'PUT' })],
    ['tampered path', 'SIGNATURE_INVALID', () => ({ ...sign('GET', '/api/v1/echo?portalId=42&userId=7'), url: '/api/v1/other?portalId=42&userId=7' })],
    ['tampered query', 'SIGNATURE_INVALID', () => ({ ...sign('GET', '/api/v1/echo?portalId=42&userId=7'), url: '/api/v1/echo?portalId=42&userId=8' })],
    [
      'tampered body',
      'SIGNATURE_INVALID',
      () => ({ ...sign('POST', '/api/v1/echo?portalId=42&userId=7', { stage: 'open' }), payload: JSON.stringify({ stage: 'closed' }) }),
    ],
    [
      'tampered timestamp',
      'SIGNATURE_INVALID',
      () => {
        const request = sign('GET', '/api/v1/echo?portalId=42&userId=7');
        return { ...request, headers: { ...request.headers, 'x-hubspot-request-timestamp': String(NOW - 1) } };
      },
    ],
    [
      'wrong secret',
      'SIGNATURE_INVALID',
      () => signedRequest({ clientSecret: 'another-secret', publicBaseUrl: BASE, method: 'GET', path: '/api/v1/echo?portalId=42&userId=7', timestamp: NOW }),
    ],
    [
      'signed for another host',
      'SIGNATURE_INVALID',
      () =>
        signedRequest({
          clientSecret: SECRET,
          publicBaseUrl: 'https://evil.example.com',
          method: 'GET',
          path: '/api/v1/echo?portalId=42&userId=7',
          timestamp: NOW,
        }),
    ],
    ['no signature', 'SIGNATURE_MISSING', () => ({ method: 'GET', url: '/api/v1/echo?portalId=42&userId=7' })],
    [
      'no timestamp',
      'SIGNATURE_MISSING',
      () => {
        const request = sign('GET', '/api/v1/echo?portalId=42&userId=7');
        return { ...request, headers: { 'x-hubspot-signature-v3': request.headers['x-hubspot-signature-v3'] ?? '' } };
      },
    ],
    [
      'garbage signature',
      'SIGNATURE_INVALID',
      () => {
        const request = sign('GET', '/api/v1/echo?portalId=42&userId=7');
        return { ...request, headers: { ...request.headers, 'x-hubspot-signature-v3': 'not base64 at all' } };
      },
    ],
    ['timestamp more than 5 minutes old', 'SIGNATURE_EXPIRED', () => sign('GET', '/api/v1/echo?portalId=42&userId=7', undefined, NOW - 5 * 60_000 - 1)],
    ['timestamp more than a minute ahead', 'SIGNATURE_EXPIRED', () => sign('GET', '/api/v1/echo?portalId=42&userId=7', undefined, NOW + 61_000)],
    ['conflicting duplicate userId', 'IDENTITY_CONFLICT', () => sign('GET', '/api/v1/echo?portalId=42&userId=7&userId=1')],
    ['conflicting duplicate portalId', 'IDENTITY_CONFLICT', () => sign('GET', '/api/v1/echo?portalId=42&userId=7&portalId=43')],
    ['conflicting duplicate appId', 'IDENTITY_CONFLICT', () => sign('GET', '/api/v1/echo?portalId=42&userId=7&appId=777&appId=778')],
    ['another app', 'APP_MISMATCH', () => sign('GET', '/api/v1/echo?portalId=42&userId=7&appId=778')],
    ["the card's userId differing from HubSpot's", 'IDENTITY_CONFLICT', () => sign('GET', '/api/v1/echo?vgPortalId=42&vgUserId=1&portalId=42&userId=7')],
    ['no userId from HubSpot', 'HUBSPOT_IDENTITY_MISSING', () => sign('GET', '/api/v1/echo?portalId=42')],
    ["only the card's names, without ALLOW_CARD_IDENTITY", 'HUBSPOT_IDENTITY_MISSING', () => sign('GET', '/api/v1/echo?vgPortalId=42&vgUserId=7')],
    ['non-numeric portalId', 'IDENTITY_MISSING', () => sign('GET', '/api/v1/echo?portalId=abc&userId=7')],
  ];

  it.each(refusals)('refuses %s with 401 %s', async (_name, code, build) => {
    const response = await app.inject(build());
    expect(response.statusCode).toBe(401);
    const body = response.json();
    expect(body.error.code).toBe(code);
    expect(typeof body.error.correlationId).toBe('string');
    // Nothing that helps a forger: no expected signature, no computed URI, no secret.
    expect(response.body).not.toContain(SECRET);
    expect(response.body).not.toContain(BASE);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'correlationId', 'fix', 'message']);
  });

  it("accepts a 4-minute-old signature, so the window is not shorter than HubSpot's", async () => {
    now = NOW + 4 * 60_000;
    const response = await app.inject(sign('GET', '/api/v1/echo?portalId=42&userId=7'));
    expect(response.statusCode).toBe(200);
  });
});
