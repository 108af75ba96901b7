import { readErrorBody } from './schemas.js';

/** A non-2xx answer from HubSpot to one of our own fetch() calls (http.ts, oauth.ts). */
export class HubSpotHttpError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: unknown,
  ) {
    // The body stays out of the message: the token endpoint's answers must never reach a log line.
    super(`HubSpot answered HTTP ${status}`);
    this.name = 'HubSpotHttpError';
  }
}

export interface HttpFailure {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: unknown;
}

/** HubSpot's answer inside a failure: every HubSpot call goes through fetch and throws HubSpotHttpError (http.ts). */
export function readHttpFailure(error: unknown): HttpFailure | undefined {
  return error instanceof HubSpotHttpError ? { status: error.status, headers: lowerCaseNames(error.headers), body: error.body } : undefined;
}

/** Header names lower-cased, string and number values only. */
export function lowerCaseNames(headers: object): Record<string, string> {
  const entries = Object.entries(headers) as Array<[string, unknown]>;
  return Object.fromEntries(
    entries.flatMap(([name, value]) => (typeof value === 'string' || typeof value === 'number' ? [[name.toLowerCase(), String(value)]] : [])),
  );
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

/** Codes Node and undici (fetch) put on connection-level failures, which a retry may cure. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function hasNetworkCode(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'string' && NETWORK_CODES.has(value.code);
}

/**
 * fetch's "fetch failed" TypeError (the cause carries the code), a socket error with a network code, and fetch's
 * AbortError / TimeoutError (an attempt ended at its limit or its deadline: deadline.ts).
 */
export function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  if (hasNetworkCode(error) || hasNetworkCode(error.cause)) return true;
  return error instanceof TypeError && error.message === 'fetch failed';
}

/** Connection errors raised before a single byte of the request could leave (Node's socket error codes). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The request certainly never reached HubSpot: the connection could not even be opened. */
export function neverSent(error: unknown): boolean {
  const codeOf = (value: unknown) => (typeof value === 'object' && value !== null && 'code' in value ? String(value.code) : undefined);
  const code = codeOf(error) ?? (error instanceof Error ? codeOf(error.cause) : undefined);
  return code !== undefined && NOT_SENT_CODES.has(code);
}
