import { z } from 'zod';
import { calibrationResultSchema } from '../access/calibration.js';
import { ACTIONS, LEVELS, OBJECT_TYPE_NAMES, type ObjectType } from '../access/model.js';
import { policyDocumentSchema } from '../access/policy.js';
import { objectType } from './schemas.js';

/**
 * What each route answers, checked on the way out: the serializer parses every 200 with these schemas, so a field a
 * use case did not mean to send (record data, a token, a stack) is dropped rather than sent, and a wrong shape is a 500
 * we see in tests instead of a card that breaks in HubSpot. hubspot-project/app/shared/types.ts mirrors them.
 */

const level = z.enum(LEVELS);
const team = z.object({ id: z.string(), name: z.string() });
const recordDetails = z.record(z.string(), z.string().nullable());

export const verdictSchema = z.object({
  allowed: z.boolean(),
  code: z.string(),
  message: z.string(),
  fix: z.string().nullable(),
  level: level.nullable(),
  levelLabel: z.string().nullable(),
  source: z.enum(['hubspot', 'policy']),
});

export const meResponse = z.object({
  portalId: z.number(),
  userId: z.number(),
  email: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  superAdmin: z.boolean(),
  ownerId: z.number().nullable(),
  roleIds: z.array(z.string()),
  teams: z.array(team.extend({ primary: z.boolean() })),
});

export const recordAccessResponse = z.object({
  record: z.object({
    objectType,
    id: z.string(),
    title: z.string(),
    owner: z.object({ ownerId: z.number(), name: z.string(), teams: z.array(team) }).nullable(),
    pipelineId: z.string().nullable().optional(),
    stageId: z.string().nullable().optional(),
    stages: z.array(z.object({ id: z.string(), label: z.string() })).optional(),
    /** The record card's types: a few of the record's properties, under CRM_OBJECTS' names (a deal's amount and stage). */
    details: recordDetails.optional(),
  }),
  viewer: z.object({ userId: z.number(), ownerId: z.number().nullable(), superAdmin: z.boolean(), teams: z.array(team.extend({ primary: z.boolean() })) }),
  verdicts: z.partialRecord(z.enum(ACTIONS), verdictSchema),
});

export const contactTicketsResponse = z.object({
  contactId: z.string(),
  canCreateTicket: verdictSchema,
  tickets: z.array(
    z.object({
      id: z.string(),
      subject: z.string(),
      stageId: z.string().nullable(),
      stageLabel: z.string().nullable(),
      pipelineId: z.string().nullable(),
      priority: z.string().nullable(),
      owner: z.object({ ownerId: z.number(), name: z.string().nullable() }).nullable(),
    }),
  ),
  /** `exact` false: at least `count` (HubSpot confirmed the tickets of this page only). */
  hidden: z.object({
    count: z.number().int(),
    exact: z.boolean(),
    reasons: z.array(z.object({ code: z.string(), message: z.string(), count: z.number().int() })),
  }),
  /** Ask for the next page with `?after=` this; null on the last page. */
  nextPage: z.string().nullable(),
});

const ticketResult = z.object({
  id: z.string(),
  subject: z.string(),
  ownerId: z.number().nullable(),
  pipelineId: z.string().nullable(),
  stageId: z.string().nullable(),
  priority: z.string().nullable(),
});
export const ticketWriteResponse = z.object({ result: ticketResult, decision: verdictSchema });
export const recordWriteResponse = z.object({
  result: z.object({ id: z.string(), title: z.string(), ownerId: z.number().nullable(), details: recordDetails }),
  decision: verdictSchema,
});
export const noteWriteResponse = z.object({ result: z.object({ id: z.string() }), decision: verdictSchema });

const storedPolicy = z.object({
  version: z.number().int(),
  document: policyDocumentSchema,
  changedBy: z.number().nullable(),
  changedAt: z.string().nullable(),
});
export const policyResponse = storedPolicy;
export const policyHistoryResponse = z.object({ versions: z.array(storedPolicy) });

const calibrationRun = z.object({
  id: z.string(),
  state: z.enum(['running', 'done', 'failed', 'interrupted']),
  trigger: z.enum(['manual', 'schedule']),
  startedBy: z.number().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  calls: z.number().int(),
  error: z.string().nullable(),
});
const calibrationStatus = z.object({
  schedule: z.object({ intervalHours: z.number().nullable(), budgetShare: z.number() }),
  latest: calibrationRun.nullable(),
});
const drift = z.object({
  userId: z.number(),
  objectType: z.enum(OBJECT_TYPE_NAMES as [ObjectType, ...ObjectType[]]),
  action: z.enum(ACTIONS),
  hubspot: level,
  policy: level.nullable(),
  rule: z.string(),
  sentence: z.string(),
});

export const calibrationResponse = calibrationStatus.extend({
  result: calibrationResultSchema.extend({ runId: z.string(), finishedAt: z.string().nullable(), drift: z.array(drift) }).nullable(),
  policyVersion: z.number().int(),
});
export const calibrationStartResponse = calibrationRun;
export const calibrationAdoptResponse = z.object({
  version: z.number().int(),
  changedBy: z.number(),
  changedAt: z.string(),
  unresolved: z.array(z.object({ userId: z.number(), objectType: z.string(), action: z.string() })),
  drift: z.array(drift),
});

export const statusResponse = z.object({
  installation: z
    .object({
      status: z.enum(['active', 'needs_reinstall', 'uninstalled']),
      statusReason: z.string().nullable(),
      installedAt: z.string(),
      installedBy: z.object({ userId: z.number(), name: z.string().nullable() }),
      tokenExpiresAt: z.string(),
    })
    .nullable(),
  scopes: z.object({ requested: z.array(z.string()), granted: z.array(z.string()), missing: z.array(z.object({ scope: z.string(), disables: z.string() })) }),
  accessSource: z.object({
    configured: z.enum(['auto', 'hubspot', 'policy']),
    /** HubSpot's permissions API (BETA) asked about one ticket while building this answer. */
    live: z.enum(['answering', 'not granted', 'unavailable', 'unexpected answer']),
    detail: z.string().nullable(),
    checkedAt: z.string(),
  }),
  identitySource: z.object({ hubspot: z.number().int(), card: z.number().int(), since: z.string().nullable() }),
  /** The account's latest writes that failed or whose outcome is unknown, newest first, with what each means. */
  recentFailures: z.array(
    z.object({
      at: z.string(),
      action: z.string(),
      objectType: z.string().nullable(),
      recordId: z.string().nullable(),
      outcome: z.enum(['failed', 'unknown']),
      meaning: z.string(),
      message: z.string().nullable(),
    }),
  ),
  installUrl: z.string(),
  calibration: calibrationStatus,
});

const periodTotal = z.object({ current: z.number().int().nonnegative(), previous: z.number().int().nonnegative() });
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
export const statisticsResponse = z.object({
  /** UTC days, both included. */
  window: z.object({ from: day, to: day, days: z.number().int() }),
  /** The window's sums, and the same for the days just before it. */
  totals: z.object({
    viewsAllowed: periodTotal,
    refusals: periodTotal,
    writes: periodTotal,
    hubspotCalls: periodTotal,
    hubspotRateLimited: periodTotal,
  }),
  refusalCodes: z.array(z.string()),
  /** Every day of the window, oldest first. */
  days: z.array(
    z.object({
      day,
      viewsAllowed: z.number().int().nonnegative(),
      refusals: z.array(z.object({ code: z.string(), count: z.number().int().positive() })),
      writes: z.object({ done: z.number().int().nonnegative(), failed: z.number().int().nonnegative(), unknown: z.number().int().nonnegative() }),
      hubspotCalls: z.number().int().nonnegative(),
      hubspotRateLimited: z.number().int().nonnegative(),
    }),
  ),
});

export const directoryResponse = z.object({
  users: z.array(
    z.object({ id: z.number(), name: z.string(), email: z.string(), superAdmin: z.boolean(), teamIds: z.array(z.string()), roleIds: z.array(z.string()) }),
  ),
  teams: z.array(team),
  roles: z.array(team),
});

const decisionFacts = z.object({
  viewer: z.object({ userId: z.number(), ownerId: z.number().nullable(), teamIds: z.array(z.string()), superAdmin: z.boolean() }),
  record: z.object({
    objectType: z.string(),
    id: z.string(),
    ownerId: z.number().nullable(),
    ownerName: z.string().nullable(),
    ownerTeamIds: z.array(z.string()),
  }),
  rule: z.string(),
});
export const explainResponse = z.object({
  decision: verdictSchema.omit({ levelLabel: true }).extend({ action: z.enum(ACTIONS), facts: decisionFacts }),
  trace: z.object({
    viewer: z.object({
      userId: z.number(),
      ownerId: z.number().nullable(),
      superAdmin: z.boolean(),
      teams: z.array(team.extend({ primary: z.boolean() })),
      roleIds: z.array(z.string()),
    }),
    record: z.object({
      objectType,
      id: z.string(),
      owner: z.object({ ownerId: z.number(), name: z.string(), teamIds: z.array(z.string()).readonly() }).nullable(),
    }),
    policyRule: z.object({ level, source: z.enum(['hubspot', 'policy']), rule: z.string(), configured: z.boolean() }),
    accessSource: z.enum(['auto', 'hubspot', 'policy']),
  }),
});

export const auditResponse = z.object({
  entries: z.array(
    z.object({
      id: z.string(),
      at: z.string(),
      userId: z.number(),
      action: z.string(),
      objectType: z.string().nullable(),
      recordId: z.string().nullable(),
      decisionCode: z.string().nullable(),
      source: z.string().nullable(),
      outcome: z.enum(['allowed', 'refused', 'done', 'failed', 'unknown']),
      message: z.string().nullable(),
      hubspotCorrelationId: z.string().nullable(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const disconnectResponse = z.object({ disconnected: z.literal(true), installUrl: z.string() });
