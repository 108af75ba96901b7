import { z } from 'zod';
import { readErrorBody } from './schemas.js';

/** A non-2xx answer from HubSpot to one of our own fetch() calls, shaped like the SDK's ApiException. */
export class HubSpotHttpError extends Error {
  constructor(
    readonly code: number,
    readonly headers: Record<string, string>,
    readonly body: unknown,
  ) {
    super(`HubSpot answered HTTP ${code}`);
    this.name = 'HubSpotHttpError';
  }
}

export interface HttpFailure {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: unknown;
}

/**
 * @hubspot/api-client throws a different ApiException class per API module, so failures are recognised by shape
 * (`code`, `headers`, `body`), which also matches HubSpotHttpError.
 */
const httpFailureShape = z.object({
  code: z.number().int().min(100).max(599),
  headers: z.record(z.string(), z.unknown()).optional(),
  body: z.unknown(),
});

export function readHttpFailure(error: unknown): HttpFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const parsed = httpFailureShape.safeParse(error);
  if (!parsed.success) return undefined;
  const headers = Object.fromEntries(
    Object.entries(parsed.data.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
  return { status: parsed.data.code, headers, body: parsed.data.body };
}

/** HubSpot's correlation id for a failed call, from the error or any error it wraps, for support and the audit log. */
export function hubspotCorrelationId(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 5; depth += 1) {
    const failure = readHttpFailure(current);
    const id = failure === undefined ? undefined : readErrorBody(failure.body).correlationId;
    if (id !== undefined) return id;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** fetch's "fetch failed" (cause carries the code), node-fetch's FetchError (type "system"), and aborts on timeout. */
export function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  const withCode = (value: unknown) => typeof value === 'object' && value !== null && 'code' in value && NETWORK_CODES.has(String(value.code));
  if (withCode(error) || withCode(error.cause)) return true;
  return (error.name === 'FetchError' && 'type' in error && error.type === 'system') || (error instanceof TypeError && error.message === 'fetch failed');
}
