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
  body: string;
  timestamp: string;
}

export function computeSignatureV3(input: SignatureInput): string {
  return createHmac('sha256', input.clientSecret)
    .update(input.method.toUpperCase() + input.uri + input.body + input.timestamp)
    .digest('base64');
}

export type SignatureFailure = 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' | 'SIGNATURE_EXPIRED';

export interface SignedRequest {
  method: string;
  uri: string;
  body: string;
  signature: string | undefined;
  timestamp: string | undefined;
}

export function verifySignatureV3(
  request: SignedRequest,
  clientSecret: string,
  nowMs: number,
): { ok: true } | { ok: false; failure: SignatureFailure } {
  const { signature, timestamp } = request;
  if (signature === undefined || signature === '' || timestamp === undefined || timestamp === '') {
    return { ok: false, failure: 'SIGNATURE_MISSING' };
  }
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, failure: 'SIGNATURE_INVALID' };
  const age = nowMs - Number(timestamp);
  if (age > MAX_SIGNATURE_AGE_MS || age < -MAX_CLOCK_SKEW_MS) return { ok: false, failure: 'SIGNATURE_EXPIRED' };

  const expected = Buffer.from(
    computeSignatureV3({ clientSecret, method: request.method, uri: request.uri, body: request.body, timestamp }),
    'base64',
  );
  const provided = Buffer.from(signature, 'base64');
  // The digest length is public (32 bytes), so checking it first leaks nothing; timingSafeEqual needs equal lengths.
  const matches = provided.length === expected.length && timingSafeEqual(provided, expected);
  return matches ? { ok: true } : { ok: false, failure: 'SIGNATURE_INVALID' };
}
