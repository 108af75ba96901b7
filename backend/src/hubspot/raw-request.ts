import type { Client } from '@hubspot/api-client';
import type { HubSpotAnswer } from './call.js';
import { HubSpotHttpError } from './http-error.js';

/**
 * For endpoints the SDK has no method for, or calls at a path the published spec does not list: the SDK's
 * authenticated apiRequest, with failures shaped like the SDK's own.
 */
export async function rawRequest(client: Client, options: { method: 'GET' | 'DELETE'; path: string; qs?: Record<string, string | number> }): Promise<HubSpotAnswer> {
  const response = await client.apiRequest(options);
  const headers = Object.fromEntries(response.headers.entries());
  const text = await response.text();
  if (!response.ok) throw new HubSpotHttpError(response.status, headers, text);
  return { headers, data: text === '' ? null : (JSON.parse(text) as unknown) };
}
