import { AppError } from '../errors.js';
import type { HubSpotAnswer, HubSpotRequest } from './call.js';
import { HubSpotHttpError } from './http-error.js';

/**
 * How every HubSpot API call leaves the backend: Node's own fetch (undici), not @hubspot/api-client. The SDK (13.x)
 * calls v3 paths where HubSpot publishes dated 2026-03 ones, never installs a timeout (it ignores the `httpAgent` it is
 * given), and its retries and Bottleneck limiter are process-wide; our scheduler paces per account from HubSpot's
 * headers instead (scheduler.ts).
 */
export interface HubSpotConnection {
  apiBaseUrl: string;
  token: string;
}

function urlOf(base: string, request: HubSpotRequest): string {
  const query = new URLSearchParams(
    Object.entries(request.query ?? {}).flatMap(([name, value]) =>
      value === undefined ? [] : [value].flat().map((item): [string, string] => [name, String(item)]),
    ),
  );
  return `${base}${request.path}${query.size === 0 ? '' : `?${query.toString()}`}`;
}

/**
 * One attempt at one HubSpot call: bearer token, JSON in and out, abandoned when `signal` fires (the attempt's limit
 * from the scheduler: deadline.ts), body read included. A non-2xx answer throws HubSpotHttpError with the raw body,
 * which the scheduler and api.ts read for 401/403/404/429/5xx and the correlation id; a hung or dropped connection
 * throws the signal's TimeoutError or "fetch failed", both network failures (http-error.ts, isNetworkFailure).
 */
export async function sendHubSpotRequest(connection: HubSpotConnection, request: HubSpotRequest, signal: AbortSignal): Promise<HubSpotAnswer> {
  const response = await fetch(urlOf(connection.apiBaseUrl, request), {
    method: request.method,
    headers: {
      authorization: `Bearer ${connection.token}`,
      accept: 'application/json',
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    signal,
  });
  const headers = Object.fromEntries(response.headers);
  const text = await response.text();
  if (!response.ok) throw new HubSpotHttpError(response.status, headers, text);
  if (text === '') return { headers, data: null };
  try {
    return { headers, data: JSON.parse(text) as unknown };
  } catch {
    throw new AppError('HUBSPOT_RESPONSE_INVALID', { message: `HubSpot answered ${request.method} ${request.path} with something that is not JSON.` });
  }
}
