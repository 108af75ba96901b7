/**
 * The backend's answers as the extensions use them (backend/src/routes/card.ts and admin.ts are the source).
 * Kept here, not imported, because HubSpot builds the extensions from this folder alone.
 */
export interface Verdict {
  allowed: boolean;
  code: string;
  message: string;
  fix: string | null;
  level: string | null;
  levelLabel: string | null;
  source: 'hubspot' | 'policy';
}

export type ObjectTypeName = 'tickets' | 'contacts' | 'deals' | 'companies';
/** The object types the shared record card serves (backend/src/access/model.ts, `recordCard`). */
export type RecordCardType = 'deals' | 'companies';

export interface RecordAccess {
  record: {
    objectType: ObjectTypeName;
    id: string;
    title: string;
    owner: { ownerId: number; name: string; teams: Array<{ id: string; name: string }> } | null;
    stageId?: string | null;
    stages?: Array<{ id: string; label: string }>;
    /** The record card's types: a few properties by the backend's names (a deal's amount and stage, a company's domain). */
    details?: Record<string, string | null>;
  };
  viewer: { userId: number; ownerId: number | null; superAdmin: boolean };
  verdicts: Partial<Record<'view' | 'edit' | 'delete' | 'communicate', Verdict>>;
}

export interface ContactTicket {
  id: string;
  subject: string;
  stageId: string | null;
  stageLabel: string | null;
  priority: string | null;
  owner: { ownerId: number; name: string | null } | null;
}

export interface ContactTickets {
  contactId: string;
  canCreateTicket: Verdict;
  tickets: ContactTicket[];
  /** `exact` false: at least `count` (HubSpot confirmed the tickets of the pages shown so far only). */
  hidden: { count: number; exact: boolean; reasons: Array<{ code: string; message: string; count: number }> };
  /** The cursor for the next page of tickets; null on the last page. */
  nextPage: string | null;
}

export interface AdminStatus {
  installation: {
    status: 'active' | 'needs_reinstall' | 'uninstalled';
    statusReason: string | null;
    installedAt: string;
    installedBy: { userId: number; name: string | null };
    tokenExpiresAt: string;
  } | null;
  scopes: { requested: string[]; granted: string[]; missing: Array<{ scope: string; disables: string }> };
  /** `live`: HubSpot's permissions API (BETA) asked about one ticket when this status was built. */
  accessSource: {
    configured: 'auto' | 'hubspot' | 'policy';
    live: 'answering' | 'not granted' | 'unavailable' | 'unexpected answer';
    detail: string | null;
    checkedAt: string;
  };
  /** Whose names identified the viewer on this account's latest requests, counted by the server answering. */
  identitySource: { hubspot: number; card: number; since: string | null };
  /** Latest writes that failed or whose outcome is unknown, newest first; `meaning` says what it means and what to check. */
  recentFailures: Array<{
    at: string;
    action: string;
    objectType: string | null;
    recordId: string | null;
    outcome: 'failed' | 'unknown';
    meaning: string;
    message: string | null;
  }>;
  installUrl: string;
}

export interface DirectoryEntry {
  id: string | number;
  name: string;
}
export interface AdminDirectory {
  users: Array<{ id: number; name: string; email: string; superAdmin: boolean; teamIds: string[]; roleIds: string[] }>;
  teams: DirectoryEntry[];
  roles: DirectoryEntry[];
}

export type Level = 'everything' | 'team+unassigned' | 'team' | 'owned+unassigned' | 'owned' | 'none';
export type LevelMap = Partial<Record<ObjectTypeName, Partial<Record<string, Level>>>>;
export interface PolicyDocument {
  default: LevelMap;
  roles: Record<string, LevelMap>;
  teams: Record<string, LevelMap>;
  users: Record<string, LevelMap>;
}
export interface StoredPolicy {
  version: number;
  document: PolicyDocument;
  changedBy: number | null;
  changedAt: string | null;
}

export interface Explanation {
  decision: Verdict & { action: string; facts: { rule: string } };
  trace: { policyRule: { level: Level; rule: string; configured: boolean }; accessSource: string };
}

export interface AuditEntry {
  id: string;
  at: string;
  userId: number;
  action: string;
  objectType: string | null;
  recordId: string | null;
  decisionCode: string | null;
  source: string | null;
  outcome: 'allowed' | 'refused' | 'done' | 'failed' | 'unknown';
  message: string | null;
}
export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

/** A figure over the statistics' window, and over the same number of days just before it. */
export interface PeriodTotal {
  current: number;
  previous: number;
}
export type StatisticsSeries = 'viewsAllowed' | 'refusals' | 'writes' | 'hubspotCalls' | 'hubspotRateLimited';
export interface DayStatistics {
  /** YYYY-MM-DD, UTC. */
  day: string;
  viewsAllowed: number;
  /** Only the codes refused that day. */
  refusals: Array<{ code: string; count: number }>;
  writes: { done: number; failed: number; unknown: number };
  hubspotCalls: number;
  hubspotRateLimited: number;
}
export interface AccountStatistics {
  /** UTC days, both included. */
  window: { from: string; to: string; days: number };
  totals: Record<StatisticsSeries, PeriodTotal>;
  /** The codes refused in the window, most frequent first. */
  refusalCodes: string[];
  /** Every day of the window, oldest first. */
  days: DayStatistics[];
}

/** GET /api/v1/admin/calibration (backend/src/routes/responses.ts calibrationResponse). */
export interface CalibrationEvidence {
  recordId: string;
  relation: 'self' | 'team' | 'other' | 'unassigned';
  allowed: boolean;
  sentence: string;
}
export type CalibrationCell =
  | { status: 'inferred'; level: Level; evidence: CalibrationEvidence[]; conclusion: string }
  | { status: 'not-enough-evidence'; candidates: Level[]; missing: string[]; evidence: CalibrationEvidence[]; reason: string }
  | { status: 'contradictory'; evidence: CalibrationEvidence[]; reason: string };
export interface CalibrationRun {
  id: string;
  state: 'running' | 'done' | 'failed' | 'interrupted';
  trigger: 'manual' | 'schedule';
  startedBy: number | null;
  startedAt: string;
  finishedAt: string | null;
  progress: { done: number; total: number };
  calls: number;
  error: string | null;
}
export interface CalibrationDrift {
  userId: number;
  objectType: string;
  action: string;
  hubspot: Level;
  policy: Level | null;
  rule: string;
  sentence: string;
}
export interface CalibrationView {
  schedule: { intervalHours: number | null; budgetShare: number };
  latest: CalibrationRun | null;
  result: {
    runId: string;
    finishedAt: string | null;
    users: Array<{
      userId: number;
      name: string;
      roleIds: string[];
      teamIds: string[];
      skipped: 'super-admin' | null;
      cells: Partial<Record<string, Partial<Record<string, CalibrationCell>>>>;
    }>;
    /** Object types HubSpot would not let Viewer Guard read here (a scope not granted), and why. */
    unreadable: Array<{ objectType: string; reason: string }>;
    roles: Array<{ roleId: string; name: string; userIds: number[]; levels: Partial<Record<string, Partial<Record<string, Level>>>> }>;
    drift: CalibrationDrift[];
  } | null;
  policyVersion: number;
}
export interface CalibrationAdopted {
  version: number;
  changedBy: number;
  changedAt: string;
  unresolved: Array<{ userId: number; objectType: string; action: string }>;
  drift: CalibrationDrift[];
}
