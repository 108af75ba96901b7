import autocannon from 'autocannon';
import { z } from 'zod';
import { quantile } from '../instruments.js';
import { withHubSpotIdentity } from '../../test/support/hubspot-fetch.js';
import { TEST_APP } from '../../test/support/harness.js';
import { signedRequest } from '../../test/support/signing.js';

/** A request ready to send (the path holds the query string), signed when it goes to the backend. */
export interface PreparedRequest {
  base: string;
  path: string;
  headers: Record<string, string>;
}

/**
 * A card's GET as hubspot.fetch sends it: HubSpot's identity appended, signed with the app's secret for the backend's
 * public URL. Signatures stay valid 5 minutes, so each scenario signs its own just before it runs.
 */
export function cardGet(backendUrl: string, path: string, viewer: { portalId: number; userId: number }): PreparedRequest {
  const signed = signedRequest({
    clientSecret: TEST_APP.clientSecret,
    publicBaseUrl: backendUrl,
    method: 'GET',
    path: withHubSpotIdentity(path, { ...viewer, appId: TEST_APP.appId }),
    timestamp: Date.now(),
  });
  return { base: backendUrl, path: signed.url, headers: signed.headers };
}

export const plainGet = (base: string, path: string): PreparedRequest => ({ base, path, headers: {} });

export interface Outcome {
  status: number;
  /** The backend's error code (body.error.code) for a refusal or failure; the status for anything else. */
  code: string;
  ms: number;
}

const errorCode = z.object({ error: z.object({ code: z.string() }) });

/** hubspot.fetch gives up after 15 s; so does every request here. */
const CARD_TIMEOUT_MS = 15_000;

export async function send(request: PreparedRequest): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(request.base + request.path, { headers: request.headers, signal: AbortSignal.timeout(CARD_TIMEOUT_MS) });
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.ok) return { status: response.status, code: String(response.status), ms };
    let parsed: ReturnType<typeof errorCode.safeParse> | undefined;
    try {
      parsed = errorCode.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    return { status: response.status, code: parsed?.success === true ? parsed.data.error.code : String(response.status), ms };
  } catch (error) {
    const code = error instanceof Error && error.name === 'TimeoutError' ? 'TIMEOUT_15S' : 'NETWORK';
    return { status: 0, code, ms: performance.now() - started };
  }
}

/** Sends every request, at most `concurrency` in flight, in order of start; the outcomes are in the requests' order. */
export async function sendAll(requests: readonly PreparedRequest[], concurrency: number): Promise<{ outcomes: Outcome[]; wallMs: number }> {
  const outcomes: Outcome[] = new Array<Outcome>(requests.length);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests.length) {
      const index = next;
      next += 1;
      outcomes[index] = await send(requests[index] as PreparedRequest);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  return { outcomes, wallMs: performance.now() - started };
}

/** Non-2xx outcomes by code, e.g. { HUBSPOT_RATE_LIMITED: 3 }. */
export function failuresOf(outcomes: readonly Outcome[]): Record<string, number> {
  const failures: Record<string, number> = {};
  for (const outcome of outcomes) if (outcome.status < 200 || outcome.status >= 300) failures[outcome.code] = (failures[outcome.code] ?? 0) + 1;
  return failures;
}

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((sum, count) => sum + count, 0);

export interface Round {
  /** 2xx answers per second. */
  okPerSecond: number;
  ok: number;
  notOk: number;
  p50Ms: number;
}

/** autocannon for `seconds` over `connections` keep-alive connections, cycling through the requests. */
export async function loadRound(requests: readonly PreparedRequest[], connections: number, seconds: number): Promise<Round> {
  const base = requests[0]?.base;
  if (base === undefined) throw new Error('loadRound needs at least one request');
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: requests.map((request) => ({ method: 'GET' as const, path: request.path, headers: request.headers })),
    timeout: CARD_TIMEOUT_MS / 1000,
  });
  const ok = result['2xx'];
  // `errors` already includes timeouts.
  return { okPerSecond: ok / result.duration, ok, notOk: result.non2xx + result.errors, p50Ms: result.latency.p50 };
}

export const p50 = (outcomes: readonly Outcome[]): number =>
  quantile(
    outcomes.map((outcome) => outcome.ms),
    0.5,
  );
