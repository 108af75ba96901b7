import type { Kysely, Selectable } from 'kysely';
import { insertAuditEntry, type AuditEntryInput } from './audit-log.js';
import type { Tables, WriteRequestsTable } from './schema.js';

export type WriteClaim = { kind: 'claimed' } | { kind: 'pending'; since: Date } | { kind: 'answered'; statusCode: number; response: string };

/** What is about to be sent to HubSpot, and why it was allowed: the write's audit entry, less its outcome. */
export interface WriteIntent {
  userId: number;
  action: string;
  objectType: string;
  recordId: string;
  decisionCode: string;
  source: string;
}

/** How a write that was sent to HubSpot ended, as its audit entry tells it. */
export interface WriteOutcome {
  /** 'unknown': HubSpot may have carried it out (a 5xx, a reset, a timeout), or what it answered was never stored. */
  outcome: 'done' | 'failed' | 'unknown';
  message: string | null;
  hubspotCorrelationId: string | null;
}

/** The outcome of an intent whose request ended without storing one: the process stopped, or the database refused it. */
export const UNRECORDED_OUTCOME: WriteOutcome = {
  outcome: 'unknown',
  message:
    'Outcome unknown: this change was sent to HubSpot, but what HubSpot did was never recorded (the database refused it or the backend stopped). Check the record in HubSpot.',
  hubspotCorrelationId: null,
};

/**
 * Exactly-once writes and their durable outbox. HubSpot retries a hubspot.fetch once after a connection failure or a
 * 5xx, with the same signature. The first request claims its key in the database (so every instance sharing it
 * agrees); a repeat gets the first request's answer, or learns that it is still running. Before a write is sent to
 * HubSpot its claim records the intent, so a write can end in only two ways: its answer and its audit entry commit
 * together, or the sweeper finds the intent and audits it as 'unknown'. An intent is never run again by a repeat.
 */
export interface WriteRequestStore {
  claim(key: string, portalId: number, now: Date): Promise<WriteClaim>;
  /** Records what is about to be sent to HubSpot; from here on the write cannot be forgotten. */
  intend(key: string, intent: WriteIntent, now: Date): Promise<void>;
  /**
   * Ends the request in one transaction: keeps `answer` for every repeat, or without one frees the key so a repeat may
   * run again, and, if an intent was recorded, writes its audit entry (`outcome`, or UNRECORDED_OUTCOME if none).
   * Does nothing if the sweeper closed the intent first, which has then written the audit entry.
   */
  settle(key: string, ending: { answer: { statusCode: number; response: string } | null; outcome: WriteOutcome | null }, now: Date): Promise<void>;
  /** Closes the intents recorded before `cutoff` and never settled, each with its audit entry (UNRECORDED_OUTCOME); returns how many. */
  closeAbandoned(cutoff: Date, now: Date): Promise<number>;
  /** Keys are only needed while a signature is valid (5 minutes); older ones are deleted, except intents still open. */
  purgeOlderThan(cutoff: Date): Promise<number>;
}

/** The audit entry of a row's intent, and when it was recorded; undefined for a claim that never got as far as HubSpot. */
function auditOf(row: Selectable<WriteRequestsTable>, outcome: WriteOutcome): { entry: AuditEntryInput; intentAt: Date } | undefined {
  const { intent_at, user_id, action } = row;
  if (intent_at === null || user_id === null || action === null) return undefined;
  const entry = {
    portalId: row.portal_id,
    userId: user_id,
    action,
    objectType: row.object_type,
    recordId: row.record_id,
    decisionCode: row.decision_code,
    source: row.source,
    ...outcome,
  };
  return { entry, intentAt: new Date(intent_at) };
}

export function createWriteRequestStore(db: Kysely<Tables>): WriteRequestStore {
  return {
    async claim(key, portalId, now) {
      // A primary-key conflict, not a read-then-write, decides who is first, so two concurrent repeats cannot both win.
      const inserted = await db
        .insertInto('write_requests')
        .values({ request_key: key, portal_id: portalId, created_at: now.getTime() })
        .onConflict((conflict) => conflict.column('request_key').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { kind: 'claimed' };
      const row = await db.selectFrom('write_requests').selectAll().where('request_key', '=', key).executeTakeFirst();
      // Released between our insert and this read: whoever inserts next goes first; this one reports it still running.
      // An intent without an answer stays "still running" for good: its outcome is unknown, so it never runs again.
      if (row === undefined || row.status_code === null || row.response === null) return { kind: 'pending', since: new Date(row?.created_at ?? now.getTime()) };
      return { kind: 'answered', statusCode: row.status_code, response: row.response };
    },

    async intend(key, intent, now) {
      await db
        .updateTable('write_requests')
        .set({
          intent_at: now.getTime(),
          user_id: intent.userId,
          action: intent.action,
          object_type: intent.objectType,
          record_id: intent.recordId,
          decision_code: intent.decisionCode,
          source: intent.source,
        })
        .where('request_key', '=', key)
        .execute();
    },

    async settle(key, { answer, outcome }, now) {
      await db.transaction().execute(async (trx) => {
        const row =
          answer === null
            ? await trx.deleteFrom('write_requests').where('request_key', '=', key).where('completed_at', 'is', null).returningAll().executeTakeFirst()
            : await trx
                .updateTable('write_requests')
                .set({ status_code: answer.statusCode, response: answer.response, completed_at: now.getTime() })
                .where('request_key', '=', key)
                .where('completed_at', 'is', null)
                .returningAll()
                .executeTakeFirst();
        const audit = row === undefined ? undefined : auditOf(row, outcome ?? UNRECORDED_OUTCOME);
        if (audit !== undefined) await insertAuditEntry(trx, audit.entry, now);
      });
    },

    async closeAbandoned(cutoff, now) {
      const abandoned = await db
        .selectFrom('write_requests')
        .select('request_key')
        .where('intent_at', '<', cutoff.getTime())
        .where('completed_at', 'is', null)
        .execute();
      let closed = 0;
      for (const { request_key: key } of abandoned) {
        // One transaction each, conditional on the intent still being open: a request settling at the same moment, or
        // another instance's sweeper, leaves exactly one audit entry.
        await db.transaction().execute(async (trx) => {
          const row = await trx
            .updateTable('write_requests')
            .set({ completed_at: now.getTime() })
            .where('request_key', '=', key)
            .where('completed_at', 'is', null)
            .returningAll()
            .executeTakeFirst();
          const audit = row === undefined ? undefined : auditOf(row, UNRECORDED_OUTCOME);
          if (audit === undefined) return;
          // Dated when the write was sent, which is when whatever HubSpot did happened.
          await insertAuditEntry(trx, audit.entry, audit.intentAt);
          closed += 1;
        });
      }
      return closed;
    },

    async purgeOlderThan(cutoff) {
      const result = await db
        .deleteFrom('write_requests')
        .where('created_at', '<', cutoff.getTime())
        .where((row) => row.or([row('intent_at', 'is', null), row('completed_at', 'is not', null)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
