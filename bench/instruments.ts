import type { KyselyPlugin, QueryId, RootOperationNode } from 'kysely';
import type { CallRecord } from '../test/hubspot-fake/state.js';

/**
 * What the benchmark counts inside the backend process. Queries are counted by a Kysely plugin on the database handed
 * to buildBackend (`db.withPlugin(counter.plugin)`), so every statement the backend runs through Kysely is seen, the
 * same on SQLite and PostgreSQL, without the backend knowing it is measured.
 */
export interface QueryCounts {
  /** Statements executed (a result came back); BEGIN/COMMIT are the driver's, not Kysely queries, and are not counted. */
  total: number;
  /** Per statement kind and first table, e.g. "select installations". */
  byStatement: Record<string, number>;
  /** Rows read from `policies` with their `document`: each is a whole policy document the store then parses. */
  policyDocumentsRead: number;
}

export interface QueryCounter {
  plugin: KyselyPlugin;
  counts(): QueryCounts;
  reset(): void;
}

const KINDS: Record<string, string> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
  MergeQueryNode: 'merge',
  RawNode: 'raw',
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** The table names an operation node tree mentions, in the order met (Kysely's TableNode: table.identifier.name). */
export function tablesOf(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) tablesOf(item, found);
    return found;
  }
  if (!isRecord(node)) return found;
  if (node.kind === 'TableNode' && isRecord(node.table) && isRecord(node.table.identifier) && typeof node.table.identifier.name === 'string') {
    if (!found.includes(node.table.identifier.name)) found.push(node.table.identifier.name);
    return found;
  }
  for (const value of Object.values(node)) if (typeof value === 'object') tablesOf(value, found);
  return found;
}

export function createQueryCounter(): QueryCounter {
  // Keyed by query id: transformQuery also runs for subqueries as they are built, and may run without an execution.
  const pending = new WeakMap<QueryId, { statement: string; policies: boolean }>();
  let counts: QueryCounts = { total: 0, byStatement: {}, policyDocumentsRead: 0 };
  return {
    plugin: {
      transformQuery({ node, queryId }): RootOperationNode {
        const tables = tablesOf(node);
        pending.set(queryId, { statement: `${KINDS[node.kind] ?? node.kind} ${tables[0] ?? '(no table)'}`, policies: tables.includes('policies') });
        return node;
      },
      async transformResult({ result, queryId }) {
        const query = pending.get(queryId) ?? { statement: 'unknown', policies: false };
        counts.total += 1;
        counts.byStatement[query.statement] = (counts.byStatement[query.statement] ?? 0) + 1;
        if (query.policies) counts.policyDocumentsRead += result.rows.filter((row) => typeof row.document === 'string').length;
        return result;
      },
    },
    counts: () => structuredClone(counts),
    reset: () => {
      counts = { total: 0, byStatement: {}, policyDocumentsRead: 0 };
    },
  };
}

/** HubSpot calls as the local HubSpot recorded them (state.ts `calls`: every API request it answered). */
export interface CallSummary {
  total: number;
  /** "METHOD route" -> count, e.g. "GET /crm/objects/2026-03/tickets/:ticketId". */
  byRoute: Record<string, number>;
  /** Answers that were not 2xx, by status. */
  failures: Record<string, number>;
}

export function summarizeCalls(calls: readonly CallRecord[]): CallSummary {
  const summary: CallSummary = { total: calls.length, byRoute: {}, failures: {} };
  for (const call of calls) {
    const route = `${call.method} ${call.route}`;
    summary.byRoute[route] = (summary.byRoute[route] ?? 0) + 1;
    if (call.status < 200 || call.status >= 300) summary.failures[String(call.status)] = (summary.failures[String(call.status)] ?? 0) + 1;
  }
  return summary;
}

/** The q-quantile (0..1) of the values, by nearest rank; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The middle value, or the mean of the two middle ones; NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** How a count changed between two snapshots, per key; keys that did not change are left out. */
export function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).flatMap(([key, value]) => (value - (before[key] ?? 0) === 0 ? [] : [[key, value - (before[key] ?? 0)]])));
}
