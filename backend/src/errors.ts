/**
 * Every failure the API reports has a stable code, an HTTP status, a plain message and, where the
 * person reading it can do something, a fix. Routes and plugins throw AppError; the single error
 * handler turns it into `{ error: { code, message, fix?, correlationId } }`.
 */
export const errorCatalogue = {
  SIGNATURE_MISSING: {
    status: 401,
    message: 'This request was not signed by HubSpot.',
    fix: 'Call this API from the Viewer Guard card inside HubSpot (hubspot.fetch signs every request).',
  },
  SIGNATURE_INVALID: {
    status: 401,
    message: 'The HubSpot signature on this request does not match.',
    fix: 'Call this API from the Viewer Guard card inside HubSpot. If you run the backend yourself, check HUBSPOT_CLIENT_SECRET and PUBLIC_BASE_URL.',
  },
  SIGNATURE_EXPIRED: {
    status: 401,
    message: 'The HubSpot signature on this request is too old or dated in the future.',
    fix: 'Retry from the card. If this keeps happening, check the server clock.',
  },
  IDENTITY_MISSING: {
    status: 401,
    message: 'The request does not say which HubSpot account and user it comes from.',
    fix: 'Call this API from the Viewer Guard card inside HubSpot.',
  },
  HUBSPOT_IDENTITY_MISSING: {
    status: 401,
    // The pipeline names exactly which of HubSpot's parameters were absent; this is the general case.
    message: "HubSpot did not add the viewer's portalId and userId to this request, so nothing HubSpot vouches for says who is asking.",
    fix:
      'Open the card again inside HubSpot. If it keeps happening: in local development (hs project dev), start the backend with ALLOW_CARD_IDENTITY=true (never in production); ' +
      'in production, HubSpot stopped naming the viewer: report it to Viewer Guard support with the correlation id.',
  },
  IDENTITY_CONFLICT: {
    status: 401,
    message: 'The request names more than one HubSpot account, user or app.',
    fix: 'Call this API from the Viewer Guard card inside HubSpot.',
  },
  APP_MISMATCH: {
    status: 401,
    message: 'The request was signed for a different HubSpot app.',
    fix: 'Check HUBSPOT_APP_ID: it must be the id of the app whose card calls this backend.',
  },
  OPERATOR_TOKEN_INVALID: {
    status: 401,
    message: "This endpoint is for the backend's operator and needs its bearer token.",
    fix: 'Send Authorization: Bearer followed by the METRICS_TOKEN the backend was started with.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: "Viewer Guard's API takes JSON bodies only.",
    fix: 'Send the body as application/json (the Viewer Guard card does).',
  },
  BODY_TOO_LARGE: {
    status: 413,
    message: 'The request body is larger than HubSpot lets a card send (1 MB).',
    fix: 'Send less: notes and ticket descriptions are limited to 10,000 characters.',
  },
  WRITE_IN_PROGRESS: {
    status: 409,
    message: 'The same change is still being made.',
    fix: 'Wait a few seconds, then reload the card to see whether it was done.',
  },
  CALIBRATION_RUNNING: {
    status: 409,
    message: 'A calibration of this account is already running.',
    fix: 'Wait for it to end; its progress shows in the settings page.',
  },
  USER_NOT_IN_PORTAL: {
    status: 403,
    message: 'Your HubSpot user is not a user of this HubSpot account, or it was deactivated.',
    fix: 'Ask a Super Admin of this HubSpot account to add you as a user.',
  },
  NOT_INSTALLED: {
    status: 409,
    message: 'Viewer Guard is not installed in this HubSpot account yet.',
    fix: 'A Super Admin installs it once for the whole account from the install page.',
  },
  INSTALL_NEEDS_REPAIR: {
    status: 409,
    message: 'Viewer Guard lost its connection to this HubSpot account (the app was uninstalled or its access was revoked).',
    fix: 'A Super Admin reinstalls it once from the install page; nobody else needs to do anything.',
  },
  HUBSPOT_RATE_LIMITED: {
    status: 503,
    message: 'HubSpot asked us to slow down for this account.',
    fix: 'Wait a few seconds and try again.',
  },
  HUBSPOT_UNAVAILABLE: {
    status: 503,
    message: 'HubSpot did not answer in time or answered with an error.',
    fix: 'Try again in a minute. If it persists, check status.hubspot.com.',
  },
  HUBSPOT_SCOPE_MISSING: {
    status: 403,
    message: 'This HubSpot account did not grant Viewer Guard a permission it needs for this.',
    fix: 'A Super Admin reinstalls Viewer Guard and approves all requested permissions.',
  },
  HUBSPOT_REFUSED: {
    status: 502,
    message: 'HubSpot refused the request Viewer Guard made for you.',
    fix: 'Try again; if it persists, report it to Viewer Guard support with the correlation id.',
  },
  HUBSPOT_RESPONSE_INVALID: {
    status: 502,
    message: 'HubSpot answered in a shape Viewer Guard does not understand, so it refused to guess.',
    fix: 'Try again later; if it persists, report it to Viewer Guard support with the correlation id.',
  },
  VALIDATION_FAILED: {
    status: 400,
    message: 'Some of the request is not valid.',
    fix: 'Correct the fields listed in details and try again.',
  },
  NOT_FOUND: {
    status: 404,
    message: 'There is nothing at this address.',
    fix: undefined,
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    // The error handler replaces it with the reason (unreachable, read-only, full, file replaced: store/database-fault.ts).
    message: 'Viewer Guard cannot use its database right now.',
    fix: 'Try again in a minute. If it persists, tell whoever runs Viewer Guard: its /readyz names the problem (check DATABASE_URL and the database server or disk).',
  },
  ENCRYPTION_KEY_MISMATCH: {
    status: 503,
    message:
      "Viewer Guard cannot open this account's stored HubSpot connection: the backend runs with a different encryption key from the one it was saved with.",
    fix:
      'Whoever runs Viewer Guard lists the key the tokens were saved with in TOKEN_ENCRYPTION_KEYS, after the new one (TOKEN_ENCRYPTION_KEYS=<new>,<old>), and restarts. ' +
      'If that key is lost, a Super Admin reinstalls Viewer Guard once from the install page.',
  },
  NOT_AN_ADMIN: {
    status: 403,
    message: "Only Super Admins can open Viewer Guard's settings.",
    fix: 'Ask a Super Admin of this HubSpot account.',
  },
  RECORD_NOT_FOUND: {
    status: 404,
    message: 'HubSpot has no such record in this account.',
    fix: 'Check the record still exists; it may have been deleted or merged.',
  },
  NOT_AN_OWNER: {
    status: 409,
    message: 'You are not a HubSpot owner, so records cannot be assigned to you.',
    fix: 'Ask a Super Admin to make your user available as an owner in HubSpot.',
  },
  INTERNAL: {
    status: 500,
    message: 'Something went wrong on our side.',
    fix: 'Try again; if it persists, report it with the correlation id.',
  },
} as const satisfies Record<string, { status: number; message: string; fix: string | undefined }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface AppErrorOptions {
  /** Replaces the catalogue message when the situation allows a more specific one (never secrets). */
  message?: string;
  fix?: string;
  /** Extra machine-readable detail that is safe to show the caller (e.g. field errors). */
  details?: unknown;
  /** When trying again may succeed (HUBSPOT_RATE_LIMITED): answered as `retryAfter` and the Retry-After header. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fix: string | undefined;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = errorCatalogue[code];
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = entry.status;
    this.fix = options.fix ?? entry.fix;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * A refusal decided by the access rules: answered 403 with the decision's own code, message and fix (e.g.
 * OWNED_ONLY_NOT_OWNER), so the card can show exactly why; the error handler audits it with the decision.
 */
export class AccessDeniedError extends Error {
  readonly status = 403;
  readonly code: string;
  readonly fix: string | null;
  constructor(readonly decision: { code: string; message: string; fix: string | null; action: string; source: string; level: string | null }) {
    super(decision.message);
    this.name = 'AccessDeniedError';
    this.code = decision.code;
    this.fix = decision.fix;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
