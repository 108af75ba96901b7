import type { z } from 'zod';
import type { Deadline } from './deadline.js';

/**
 * How hubspot/ gets an account's install token: declared here so this folder depends on nobody. The composition root
 * hands in the token manager's method; hubspot/ never learns where tokens are stored or how they are refreshed. The
 * caller stops waiting at `deadline`.
 */
export type GetToken = (portalId: number, deadline: Deadline) => Promise<string>;

/**
 * Asked once HubSpot has refused `refused` for an account (401): a newer token to send the call again with, or
 * undefined when there is none (the refusal stands). Tokens may be held in memory by whoever hands them in, and a token
 * HubSpot refuses must not be served again.
 */
export type RenewToken = (portalId: number, refused: string, deadline: Deadline) => Promise<string | undefined>;

/**
 * One HubSpot API request as plain data, so crm.ts and api.ts state the wire format and http.ts alone sends it.
 */
export interface HubSpotRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** From the API root, e.g. /crm/objects/2026-03/tickets/1. */
  path: string;
  /** A list is sent as the parameter repeated (properties=a&properties=b): OpenAPI's default `form` style with `explode`. */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** Sent as JSON. */
  body?: unknown;
}

/** A path segment kept in a metrics label: a word (`tickets`, `permitted-users`) or a version (`2026-03`, `v3`). */
const NAMED_SEGMENT = /^(?:[a-z][a-z-]*|\d{4}-\d{2}|v\d+)$/;

/**
 * The request as a metrics label without ids: every other path segment (record, user, owner and pipeline ids) reads
 * `{id}`, so the label takes one value per endpoint we call, whatever the account or record.
 */
export function endpointLabel(request: Pick<HubSpotRequest, 'method' | 'path'>): string {
  return `${request.method} ${request.path
    .split('/')
    .map((segment) => (segment === '' || NAMED_SEGMENT.test(segment) ? segment : '{id}'))
    .join('/')}`;
}

/**
 * What a request hands back: the body, and the headers, whose rate-limit numbers pace the account's calls
 * (scheduler.ts). http.ts answers this shape.
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
  request: HubSpotRequest,
  options: { notFoundIsEmpty: boolean; creates?: boolean; search?: boolean },
) => Promise<z.infer<S> | undefined>;
