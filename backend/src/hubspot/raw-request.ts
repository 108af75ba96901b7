import type { Client } from '@hubspot/api-client';
import type { HubSpotAnswer } from './call.js';
import { HubSpotHttpError } from './http-error.js';

/**
 * For endpoints the SDK has no method for, or calls at a path the published spec does not list: the SDK's
 * authenticated apiRequest, with failures shaped like the SDK's own. A list in `qs` is sent as the parameter repeated
 * (resource=a&resource=b), which the SDK's own `qs` cannot express.
 */
export async function rawRequest(
  client: Client,
  options: { method: 'GET' | 'DELETE'; path: string; qs?: Record<string, string | number | readonly string[]> },
): Promise<HubSpotAnswer> {
  const query = new URLSearchParams(
    Object.entries(options.qs ?? {}).flatMap(([name, value]) => [value].flat().map((item): [string, string] => [name, String(item)])),
  );
  const response = await client.apiRequest({ method: options.method, path: query.size === 0 ? options.path : `${options.path}?${query.toString()}` });
  const headers = Object.fromEntries(response.headers.entries());
  const text = await response.text();
  if (!response.ok) throw new HubSpotHttpError(response.status, headers, text);
  return { headers, data: text === '' ? null : (JSON.parse(text) as unknown) };
}
