import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AccessDeniedError, AppError, errorCatalogue, type ErrorCode } from '../errors.js';
import { databaseFault, TokenDecryptionError, TokenKeyMismatchError, type AuditEntryInput } from '../store/index.js';

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    fix?: string;
    link?: string;
    details?: unknown;
    /** Seconds after which trying again may succeed; the same number is in the Retry-After header. */
    retryAfter?: number;
    correlationId: string;
  };
}

export interface ErrorHandlerOptions {
  /** Where a Super Admin installs or repairs the install: the link for the errors only a (re)install fixes. */
  installUrl: string;
  /** Every refusal of a verified caller is audited; a failure to audit is logged, never answered. */
  recordRefusal(entry: AuditEntryInput): Promise<void>;
  /** Told of every answer with an error code, 404s for unknown paths included (/metrics counts them). */
  onErrorAnswer?: (code: string, status: number) => void;
}

/** Errors whose fix is the install page. */
const FIXED_BY_INSTALLING: ReadonlySet<ErrorCode> = new Set(['NOT_INSTALLED', 'INSTALL_NEEDS_REPAIR', 'HUBSPOT_SCOPE_MISSING']);

/** Fastify's own codes for what its parsers refuse, mapped to ours so every answer has one shape. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Codes that code knowing only "the database failed" may wrap a database error in; the handler says which way. */
const REFINED_BY_FAULT: ReadonlySet<ErrorCode> = new Set(['DATABASE_UNAVAILABLE', 'INTERNAL']);

function toAppError(error: FastifyError): AppError {
  // The database could not serve (thrown as is, or wrapped): which way, and when trying again may help; requests
  // succeed again once it is back.
  const fault = error instanceof AppError && !REFINED_BY_FAULT.has(error.code) ? undefined : databaseFault(error);
  if (fault !== undefined) return new AppError('DATABASE_UNAVAILABLE', { message: fault.reason, retryAfterSeconds: fault.retryAfterSeconds, cause: error });
  if (error instanceof AppError) return error;
  if (error instanceof TokenDecryptionError) return new AppError('ENCRYPTION_KEY_MISMATCH', { cause: error });
  // Readiness: not one account's token but every one checked, said as such.
  if (error instanceof TokenKeyMismatchError) return new AppError('ENCRYPTION_KEY_MISMATCH', { message: error.message, cause: error });
  // Fastify's schema validation (here zod's, through fastify-type-provider-zod) lists each field that failed.
  if (error.validation !== undefined) {
    return new AppError('VALIDATION_FAILED', {
      details: error.validation.map((issue) => ({
        field: [error.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
        message: issue.message ?? 'is not valid',
      })),
    });
  }
  const mapped = FASTIFY_CODES[error.code];
  if (mapped !== undefined) return new AppError(mapped);
  // Fastify's other 4xx (bad JSON, bad content length) are the caller's input: 400 in our shape.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError('VALIDATION_FAILED', { message: error.message });
  }
  return new AppError('INTERNAL', { cause: error });
}

/** The record a refused request was about, as the caller named it (never read back from HubSpot). */
function askedAbout(request: FastifyRequest): { objectType: string | null; recordId: string | null } {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value).slice(0, 40) : null);
  const url = request.routeOptions.url ?? '';
  const objectType = text(params.objectType) ?? text(body.objectType) ?? /\/(tickets|contacts)\/:id/.exec(url)?.[1] ?? null;
  return { objectType, recordId: text(params.id) ?? text(body.recordId) };
}

/**
 * The one place an error becomes a response, so every route answers failures in the same shape, links the install
 * page where installing is the fix, and audits every refusal of a caller HubSpot's signature vouched for (requests
 * that fail the signature name no account we could trust, so they are logged, not audited).
 */
export const errorHandlerPlugin = fp<ErrorHandlerOptions>(
  async (app: FastifyInstance, options) => {
    async function audit(request: FastifyRequest, refusal: { code: string; message: string; source?: string | null }) {
      if (!request.identity) return; // undefined outside the signed scope, null before the signature verified
      const config = request.routeOptions.config;
      try {
        await options.recordRefusal({
          portalId: request.identity.portalId,
          userId: request.identity.userId,
          action: config.write ?? `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
          ...askedAbout(request),
          decisionCode: refusal.code,
          source: refusal.source ?? null,
          outcome: 'refused',
          message: refusal.message,
        });
      } catch (error) {
        request.log.error({ err: error, code: refusal.code }, 'refusal could not be audited');
      }
    }

    app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error instanceof AccessDeniedError) {
        request.log.info({ code: error.code }, 'access refused');
        await audit(request, { code: error.code, message: error.message, source: error.decision.source });
        options.onErrorAnswer?.(error.code, 403);
        const { decision } = error;
        return reply.status(403).send({
          error: {
            code: error.code,
            message: error.message,
            ...(error.fix === null ? {} : { fix: error.fix }),
            details: { action: decision.action, source: decision.source, level: decision.level },
            correlationId: request.id,
          },
        });
      }
      const appError = toAppError(error);
      const status = appError.status;
      if (appError.code === 'DATABASE_UNAVAILABLE') {
        // The connection's loss is logged once where it happens (store/postgres.ts); each refused request needs one line, not a stack.
        request.log.warn({ code: appError.code, reason: appError.message }, 'request refused: database unavailable');
      } else if (status >= 500) {
        request.log.error({ err: error, code: appError.code }, 'request failed');
      } else {
        request.log.info({ code: appError.code, status }, 'request refused');
        await audit(request, appError);
      }
      options.onErrorAnswer?.(appError.code, status);
      if (appError.retryAfterSeconds !== undefined) reply.header('retry-after', String(appError.retryAfterSeconds));
      return reply.status(status).send(errorBody(appError, request.id, FIXED_BY_INSTALLING.has(appError.code) ? options.installUrl : undefined));
    });

    app.setNotFoundHandler((request, reply) => {
      const notFound = new AppError('NOT_FOUND', { message: `There is no ${request.method} ${request.url.split('?')[0]}.` });
      options.onErrorAnswer?.(notFound.code, notFound.status);
      return reply.status(errorCatalogue.NOT_FOUND.status).send(errorBody(notFound, request.id, undefined));
    });
  },
  { name: 'error-handler' },
);

export function errorBody(error: AppError, correlationId: string, link: string | undefined): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.fix === undefined ? {} : { fix: error.fix }),
      ...(link === undefined ? {} : { link }),
      ...(error.details === undefined ? {} : { details: error.details }),
      ...(error.retryAfterSeconds === undefined ? {} : { retryAfter: error.retryAfterSeconds }),
      correlationId,
    },
  };
}
