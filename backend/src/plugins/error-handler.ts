import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AccessDeniedError, AppError, errorCatalogue, type ErrorCode } from '../errors.js';

export interface ErrorBody {
  error: { code: ErrorCode | string; message: string; fix?: string; link?: string; details?: unknown; correlationId: string };
}

export function errorBody(error: AppError, correlationId: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.fix === undefined ? {} : { fix: error.fix }),
      ...(error.link === undefined ? {} : { link: error.link }),
      ...(error.details === undefined ? {} : { details: error.details }),
      correlationId,
    },
  };
}

function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    return new AppError('VALIDATION_FAILED', {
      details: error.validation.map((issue) => ({
        field: [error.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
        message: issue.message,
      })),
    });
  }
  // Fastify's own 4xx (bad JSON, body too large, unsupported media type) keep their status but get our shape.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError('VALIDATION_FAILED', { message: error.message });
  }
  return new AppError('INTERNAL', { cause: error });
}

/** The one place an error becomes a response, so every route answers failures in the same shape. */
export const errorHandlerPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error instanceof AccessDeniedError) {
        request.log.info({ code: error.code }, 'access refused');
        return reply.status(403).send({
          error: { code: error.code, message: error.message, ...(error.fix === null ? {} : { fix: error.fix }), details: error.details, correlationId: request.id },
        });
      }
      const appError = toAppError(error);
      const status =
        appError.code === 'VALIDATION_FAILED' && error.statusCode !== undefined && error.statusCode < 500
          ? error.statusCode
          : appError.status;
      if (status >= 500) {
        request.log.error({ err: error, code: appError.code }, 'request failed');
      } else {
        request.log.info({ code: appError.code, status }, 'request refused');
      }
      return reply.status(status).send(errorBody(appError, request.id));
    });

    app.setNotFoundHandler((request, reply) => {
      const notFound = new AppError('NOT_FOUND', { message: `There is no ${request.method} ${request.url.split('?')[0]}.` });
      return reply.status(errorCatalogue.NOT_FOUND.status).send(errorBody(notFound, request.id));
    });
  },
  { name: 'error-handler' },
);
