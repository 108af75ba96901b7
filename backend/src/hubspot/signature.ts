import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HubSpot's v3 request signature, as documented in "Validating requests from HubSpot"
 * (developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests):
 * base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)).
 *
 * The HMAC is computed here with node:crypto rather than through @hubspot/api-client's Signature helper so
 * the tests, which sign with HubSpot's helper, check an independent implementation; the helper's own
 * isValid() also compares with `===`, which is not constant-time.
 */

export const MAX_SIGNATURE_AGE_MS = 5 * 60 * 1000;
/** Clocks drift; a request dated more than this in the future was not made by HubSpot just now. */
export const MAX_CLOCK_SKEW_MS = 60 * 1000;

/** HubSpot decodes exactly these percent-encodings in the URI before signing (same doc as above). */
const DECODED_BEFORE_SIGNING: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/**
 * The URI HubSpot signed: our public base URL (never the Host header, which the caller controls) followed
 * by the path and query exactly as received, with HubSpot's listed characters decoded.
 */
export function signedUri(publicBaseUrl: string, rawPathAndQuery: string): string {
  const joined = publicBaseUrl.replace(/\/+$/, '') + rawPathAndQuery;
  return joined.replace(/%[0-9A-Fa-f]{2}/g, (escape) => DECODED_BEFORE_SIGNING[escape.toUpperCase()] ?? escape);
}

export interface SignatureInput {
  clientSecret: string;
  method: string;
  uri: string;
  /** The body exactly as received: HubSpot signs the bytes it sends, whatever their content type. */
  body: string | Buffer;
  timestamp: string;
}

export function computeSignatureV3(input: SignatureInput): string {
  return createHmac('sha256', input.clientSecret)
    .update(input.method.toUpperCase() + input.uri)
    .update(input.body)
    .update(input.timestamp)
    .digest('base64');
}

/**
 * An HMAC-SHA256 digest in standard base64 is always 44 characters ending in one `=`. Anything else (a header sent
 * twice and joined with ", ", trailing bytes that a lenient decoder would skip, base64url, no padding) is not what
 * HubSpot sends, so it is refused before any comparison instead of being decoded leniently.
 */
const CANONICAL_SIGNATURE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const TIMESTAMP = /^[1-9]\d{0,15}$/;

export type SignatureFailure = 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' | 'SIGNATURE_EXPIRED';

export interface SignedRequest {
  method: string;
  uri: string;
  body: string | Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
}

/** What can be checked before the body is read: both headers present, in HubSpot's form, and the timestamp fresh. */
export function precheckSignature(
  headers: { signature: string | undefined; timestamp: string | undefined },
  nowMs: number,
): { ok: true; signature: string; timestamp: string } | { ok: false; failure: SignatureFailure } {
  const { signature, timestamp } = headers;
  if (signature === undefined || signature === '' || timestamp === undefined || timestamp === '') {
    return { ok: false, failure: 'SIGNATURE_MISSING' };
  }
  if (!CANONICAL_SIGNATURE.test(signature) || !TIMESTAMP.test(timestamp)) return { ok: false, failure: 'SIGNATURE_INVALID' };
  const age = nowMs - Number(timestamp);
  if (age > MAX_SIGNATURE_AGE_MS || age < -MAX_CLOCK_SKEW_MS) return { ok: false, failure: 'SIGNATURE_EXPIRED' };
  return { ok: true, signature, timestamp };
}

export function verifySignatureV3(request: SignedRequest, clientSecret: string, nowMs: number): { ok: true } | { ok: false; failure: SignatureFailure } {
  const headers = precheckSignature(request, nowMs);
  if (!headers.ok) return headers;
  const expected = Buffer.from(
    computeSignatureV3({ clientSecret, method: request.method, uri: request.uri, body: request.body, timestamp: headers.timestamp }),
    'base64',
  );
  const provided = Buffer.from(headers.signature, 'base64');
  // Both are 32 bytes once the header passed the canonical form; the length check only guards timingSafeEqual.
  const matches = provided.length === expected.length && timingSafeEqual(provided, expected);
  return matches ? { ok: true } : { ok: false, failure: 'SIGNATURE_INVALID' };
}
