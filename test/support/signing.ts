import { Signature } from '@hubspot/api-client';

/**
 * Signs a request the way HubSpot does, with HubSpot's own helper from @hubspot/api-client, so the backend's
 * independent verifier is checked against HubSpot's code rather than against itself.
 */
export function hubspotSignature(input: { clientSecret: string; method: string; url: string; body?: string; timestamp: number }): Record<string, string> {
  const signature = Signature.getSignature(input.method, 'v3', {
    // The options type is shared with isValid(); getSignature ignores this field.
    signature: '',
    clientSecret: input.clientSecret,
    requestBody: input.body ?? '',
    url: input.url,
    timestamp: input.timestamp,
  });
  return { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(input.timestamp) };
}

/** Headers and URL for app.inject() or fetch(): `path` includes the query string exactly as it will be sent. */
export function signedRequest(input: {
  clientSecret: string;
  publicBaseUrl: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  timestamp: number;
}): { method: typeof input.method; url: string; headers: Record<string, string>; payload?: string } {
  const payload = input.body === undefined ? undefined : JSON.stringify(input.body);
  const headers = hubspotSignature({
    clientSecret: input.clientSecret,
    method: input.method,
    url: input.publicBaseUrl + input.path,
    body: payload ?? '',
    timestamp: input.timestamp,
  });
  return {
    method: input.method,
    url: input.path,
    headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { payload }),
  };
}
