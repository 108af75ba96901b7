import type {
  AccountStatistics,
  AdminDirectory,
  AdminStatus,
  AuditPage,
  CalibrationAdopted,
  CalibrationRun,
  CalibrationView,
  ContactTickets,
  Explanation,
  ObjectTypeName,
  PolicyDocument,
  RecordAccess,
  RecordCardType,
  StoredPolicy,
} from './types.ts';

/**
 * The one client every extension uses to reach the Viewer Guard backend through hubspot.fetch(). HubSpot signs each
 * request; the backend takes the viewer only from the names HubSpot appends (`portalId`, `userId`, `appId`,
 * `userEmail`), so the client never sends those itself. It sends the extension context under its own names
 * (`vgPortalId`, `vgUserId`) for `hs project dev`, whose proxy signs but appends nothing: the backend trusts them only
 * with ALLOW_CARD_IDENTITY outside production, and otherwise only checks that they name the same viewer as HubSpot.
 */

/** Where the backend lives; it must also be listed in app-hsmeta.json permittedUrls.fetch. */
export const BACKEND_URL = 'https://viewer-guard.example.com';

/** HubSpot ends a hubspot.fetch call after 15 s; we give up a little earlier to show our own message. */
const TIMEOUT_MS = 12_000;

export interface FetchLike {
  (
    url: string,
    options?: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'; timeout?: number; body?: { [key: string]: unknown } },
  ): Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
  }>;
}

export class BackendError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fix: string | null,
    readonly link: string | null,
    readonly status: number,
    /** Per-field problems of a VALIDATION_FAILED answer, e.g. a policy rule whose Edit reaches past its View. */
    readonly details: ReadonlyArray<{ field: string; message: string }> = [],
    /** Seconds after which trying again may succeed (HUBSPOT_RATE_LIMITED), when the backend knows. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'BackendError';
  }

  /** Worth a "Try again" button: HubSpot or the network, not a decision. */
  get retryable(): boolean {
    // DATABASE_UNAVAILABLE passes by itself (a restart, a failover); ENCRYPTION_KEY_MISMATCH waits for the operator.
    return ['NETWORK', 'TIMEOUT', 'HUBSPOT_RATE_LIMITED', 'HUBSPOT_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'INTERNAL'].includes(this.code);
  }
}

function readError(body: unknown, status: number): BackendError {
  const error = typeof body === 'object' && body !== null && 'error' in body ? (body as { error: Record<string, unknown> }).error : undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const details = (Array.isArray(error?.details) ? (error.details as unknown[]) : []).flatMap((detail) => {
    const entry = typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>) : {};
    const field = text(entry.field);
    const message = text(entry.message);
    return field === null || message === null ? [] : [{ field, message }];
  });
  const retryAfter = typeof error?.retryAfter === 'number' && Number.isInteger(error.retryAfter) && error.retryAfter > 0 ? error.retryAfter : null;
  return new BackendError(
    text(error?.code) ?? 'UNEXPECTED',
    text(error?.message) ?? `Viewer Guard answered ${status}.`,
    text(error?.fix),
    text(error?.link),
    status,
    details,
    retryAfter,
  );
}

export interface BackendClient {
  access(objectType: ObjectTypeName, id: string): Promise<RecordAccess>;
  /** One page of the contact's tickets; `after` is the previous page's `nextPage`. */
  contactTickets(contactId: string, after?: string): Promise<ContactTickets>;
  assignToMe(ticketId: string): Promise<unknown>;
  moveStage(ticketId: string, stageId: string): Promise<unknown>;
  addNote(ticketId: string, body: string): Promise<unknown>;
  /** The record card's actions on a deal or a company. */
  assignRecordToMe(objectType: RecordCardType, id: string): Promise<unknown>;
  addRecordNote(objectType: RecordCardType, id: string, body: string): Promise<unknown>;
  createTicket(contactId: string, input: { subject: string; priority?: 'LOW' | 'MEDIUM' | 'HIGH' }): Promise<unknown>;
  adminStatus(): Promise<AdminStatus>;
  /** The account's last 30 days, for the settings page's figures and charts. */
  statistics(): Promise<AccountStatistics>;
  adminDirectory(): Promise<AdminDirectory>;
  policy(): Promise<StoredPolicy>;
  savePolicy(document: PolicyDocument): Promise<StoredPolicy>;
  explain(input: { userId: number; objectType: ObjectTypeName; recordId: string; action: string }): Promise<Explanation>;
  audit(query: { before?: string; limit?: number }): Promise<AuditPage>;
  calibration(): Promise<CalibrationView>;
  startCalibration(): Promise<CalibrationRun>;
  adoptCalibration(runId: string): Promise<CalibrationAdopted>;
}

export function createBackendClient(input: { fetch: FetchLike; portalId: number; userId: number; baseUrl?: string }): BackendClient {
  const baseUrl = input.baseUrl ?? BACKEND_URL;

  async function request<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: { [key: string]: unknown }): Promise<T> {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${baseUrl}${path}${separator}vgPortalId=${input.portalId}&vgUserId=${input.userId}`;
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await input.fetch(url, { method, timeout: TIMEOUT_MS, ...(body === undefined ? {} : { body }) });
    } catch (error) {
      const timedOut = error instanceof Error && /timeout|timed out/i.test(error.message);
      throw new BackendError(
        timedOut ? 'TIMEOUT' : 'NETWORK',
        timedOut ? 'Viewer Guard took too long to answer.' : 'Viewer Guard could not be reached.',
        'Check your connection and try again.',
        null,
        0,
      );
    }
    const json = await response.json().catch(() => undefined);
    if (!response.ok) throw readError(json, response.status);
    return json as T;
  }

  const query = (params: Record<string, string | number | undefined>) =>
    Object.entries(params)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`)
      .join('&');

  return {
    access: (objectType, id) => request('GET', `/api/v1/records/${objectType}/${id}/access`),
    contactTickets: (contactId, after) => request('GET', `/api/v1/contacts/${contactId}/tickets${after === undefined ? '' : `?${query({ after })}`}`),
    assignToMe: (ticketId) => request('POST', `/api/v1/tickets/${ticketId}/assign-to-me`),
    moveStage: (ticketId, stageId) => request('POST', `/api/v1/tickets/${ticketId}/stage`, { stageId }),
    addNote: (ticketId, body) => request('POST', `/api/v1/tickets/${ticketId}/notes`, { body }),
    assignRecordToMe: (objectType, id) => request('POST', `/api/v1/records/${objectType}/${id}/assign-to-me`),
    addRecordNote: (objectType, id, body) => request('POST', `/api/v1/records/${objectType}/${id}/notes`, { body }),
    createTicket: (contactId, ticket) => request('POST', `/api/v1/contacts/${contactId}/tickets`, { ...ticket }),
    adminStatus: () => request('GET', '/api/v1/admin/status'),
    statistics: () => request('GET', '/api/v1/admin/statistics'),
    adminDirectory: () => request('GET', '/api/v1/admin/directory'),
    policy: () => request('GET', '/api/v1/admin/policy'),
    savePolicy: (document) => request('PUT', '/api/v1/admin/policy', { ...document }),
    explain: (explainInput) => request('POST', '/api/v1/admin/explain', { ...explainInput }),
    calibration: () => request('GET', '/api/v1/admin/calibration'),
    startCalibration: () => request('POST', '/api/v1/admin/calibration'),
    adoptCalibration: (runId) => request('POST', '/api/v1/admin/calibration/adopt', { runId }),
    audit: (auditQuery) => request('GET', `/api/v1/admin/audit?${query({ limit: auditQuery.limit ?? 20, before: auditQuery.before })}`),
  };
}

/** What an error means for the person looking at the card, and whether a retry or an admin link helps. */
export function describeError(error: unknown): { title: string; message: string; fix: string | null; link: string | null; retry: boolean } {
  if (!(error instanceof BackendError)) {
    return { title: 'Something went wrong', message: 'Viewer Guard hit an unexpected problem.', fix: 'Try again.', link: null, retry: true };
  }
  const titles: Record<string, string> = {
    INSTALL_NEEDS_REPAIR: 'Viewer Guard needs to be reconnected',
    NOT_INSTALLED: 'Viewer Guard is not installed yet',
    HUBSPOT_RATE_LIMITED: 'HubSpot is busy',
    HUBSPOT_UNAVAILABLE: 'HubSpot did not answer',
    NETWORK: 'Viewer Guard could not be reached',
    TIMEOUT: 'Viewer Guard took too long',
    USER_NOT_IN_PORTAL: 'Your user was not found',
    HUBSPOT_IDENTITY_MISSING: 'HubSpot did not say who you are',
    DATABASE_UNAVAILABLE: 'Viewer Guard is briefly unavailable',
    ENCRYPTION_KEY_MISMATCH: 'Viewer Guard is misconfigured',
  };
  const title = titles[error.code] ?? 'Viewer Guard could not do this';
  if (error.code === 'HUBSPOT_RATE_LIMITED' && error.retryAfter !== null) {
    // The backend knows when HubSpot lets the account's calls through again: say so instead of "a few seconds".
    const wait = error.retryAfter === 1 ? '1 second' : `${error.retryAfter} seconds`;
    return { title, message: `HubSpot asked us to slow down; try again in ${wait}.`, fix: null, link: null, retry: true };
  }
  return { title, message: error.message, fix: error.fix, link: error.link, retry: error.retryable };
}

/** A failed action as the alert a card or the settings page raises for it: the error's own title and words. */
export function failureAlert(error: unknown): { type: 'danger'; title: string; message: string } {
  const described = describeError(error);
  return { type: 'danger', title: described.title, message: described.message };
}
