import type { Client } from '@hubspot/api-client';
import type { z } from 'zod';

/**
 * How hubspot/ gets an account's install token: declared here so this folder depends on nobody. The composition root
 * hands in the token manager's method; hubspot/ never learns where tokens are stored or how they are refreshed.
 */
export type GetToken = (portalId: number) => Promise<string>;

/**
 * What a request hands back: the body, and the headers, whose rate-limit numbers pace the account's calls
 * (scheduler.ts). The SDK's `...WithHttpInfo` methods answer this shape (its plain methods drop the headers, and its
 * `middleware` option never runs without per-call options in 13.x); so does rawRequest.
 */
export interface HubSpotAnswer {
  headers: Record<string, string>;
  data: unknown;
}

/**
 * One HubSpot call for an account: its install token, our scheduler, HubSpot's 401/403 explained, the answer
 * parsed with a schema. `notFoundIsEmpty` turns a 404 into undefined for look-ups where absence is an answer;
 * `creates` marks a call that makes a record, which the scheduler never sends twice once it may have arrived.
 * `search` marks HubSpot's CRM search endpoints, which have a limit of their own (scheduler.ts).
 */
export type PortalCall = <S extends z.ZodType>(
  what: string,
  schema: S,
  request: (client: Client) => Promise<HubSpotAnswer>,
  options: { notFoundIsEmpty: boolean; creates?: boolean; search?: boolean },
) => Promise<z.infer<S> | undefined>;
