import { Signature } from '@hubspot/api-client';
import type { FetchLike } from '../../hubspot-project/app/shared/backend-client.ts';

/**
 * What hubspot.fetch() does between a card and our backend, for tests and the demo: sign the request with the app's
 * client secret (HubSpot's own helper) and send it. The card is given the backend's real URL as its base URL.
 */
export function signingFetch(clientSecret: string): FetchLike {
  return async (url, options = {}) => {
    const method = options.method ?? 'GET';
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const timestamp = Date.now();
    const signature = Signature.getSignature(method, 'v3', { signature: '', clientSecret, requestBody: body, url, timestamp });
    const response = await fetch(url, {
      method,
      headers: {
        'x-hubspot-signature-v3': signature,
        'x-hubspot-request-timestamp': String(timestamp),
        ...(body === '' ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === '' ? {} : { body }),
    });
    return response;
  };
}
