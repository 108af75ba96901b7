import { Signature } from '@hubspot/api-client';
import type { FetchLike } from '../../hubspot-project/app/shared/backend-client.ts';

/** The viewer's identity as HubSpot is assumed to append it to a hubspot.fetch() URL in production. */
export interface HubSpotAppends {
  portalId: number;
  userId: number;
  appId?: number;
}

/**
 * What hubspot.fetch() does between a card and our backend, for tests and the demo: append the viewer's identity under
 * HubSpot's names (given `appends`: production as Viewer Guard assumes it, README "HubSpot facts we rely on"; without:
 * `hs project dev`'s proxy, which appends nothing), sign the request with the app's client secret (HubSpot's own
 * helper) and send it. The card is given the backend's real URL as its base URL.
 */
export function signingFetch(clientSecret: string, appends?: HubSpotAppends): FetchLike {
  return async (cardUrl, options = {}) => {
    const url = appends === undefined ? cardUrl : withHubSpotIdentity(cardUrl, appends);
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

/** `url` with HubSpot's identity parameters appended after whatever query the card sent. */
export function withHubSpotIdentity(url: string, appends: HubSpotAppends): string {
  const names = `portalId=${appends.portalId}&userId=${appends.userId}${appends.appId === undefined ? '' : `&appId=${appends.appId}`}`;
  return `${url}${url.includes('?') ? '&' : '?'}${names}`;
}
