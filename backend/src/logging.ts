import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { LogController, type ConnectionError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type LoggerOptions } from 'pino';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import { errorBody } from './plugins/error-handler.js';

/**
 * What may reach a log line, at every level including `trace`: never a signature, cookie, bearer token, OAuth
 * code or state, query string (it carries the signed identity and the OAuth callback's code and state) or raw
 * packet. Four layers, each covering what the one before cannot see:
 * - serializers keep `req` to method, path and id, `res` to its status, and `err` to an allow-list of fields
 *   (an error may carry headers, a response body or Node's rawPacket as own properties);
 * - redaction censors credential-bearing keys wherever a log call puts them, up to three levels deep;
 * - the last hook strips query strings from the finished line, messages included (Fastify writes URLs into
 *   some messages, such as "Reply was already sent ... in the "/path?query" route");
 * - clientErrorHandler answers malformed requests without logging the packet (Fastify's default logs it).
 */

/** Keys whose values are credentials, or carry them, wherever they appear. */
const SECRET_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-hubspot-signature',
  'x-hubspot-signature-v3',
  'rawPacket',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'query',
  'querystring',
];

const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [`["${key}"]`, `*["${key}"]`, `*.*["${key}"]`]);

/** A path followed by a query string, in a URL or a message; stops at quotes and backslashes so JSON stays valid. */
const QUERY_STRING = /(\/[^\s?#"'<>\\]*)\?[^\s#"'<>\\]+/g;

function withoutQueryStrings(text: string): string {
  return text.replace(QUERY_STRING, '$1?[query redacted]');
}

interface SerializedError {
  type: string;
  message: string;
  stack: string;
  code?: string;
  statusCode?: number;
  status?: number;
}

function serializeError(value: unknown): SerializedError | string {
  if (!(value instanceof Error)) return String(value);
  // pino's own serializer joins the messages and stacks of the `cause` chain; only those and plain codes are kept.
  const { type, message, stack } = pino.stdSerializers.err(value);
  const { code, statusCode, status } = value as Error & Partial<Record<'code' | 'statusCode' | 'status', unknown>>;
  return {
    type,
    message,
    stack,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof statusCode === 'number' ? { statusCode } : {}),
    ...(typeof status === 'number' ? { status } : {}),
  };
}

export function loggerOptions(level: Config['logLevel']): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: { method: string; url: string; id: string }) => ({ method: request.method, path: request.url.split('?')[0], id: request.id }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      err: serializeError,
      error: serializeError,
    },
    hooks: { streamWrite: withoutQueryStrings },
  };
}

/**
 * One line per request, written when it is answered, with the request (method, path, id), its status and its time:
 * Fastify's own controller also writes a line as each request arrives, which doubled the logging on the hot path.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** Node's parser errors (llhttp) and its request timeout, answered as Fastify's default does but in our error shape. */
function clientErrorAnswer(code: string): { status: number; message: string; fix: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, message: 'The request did not arrive in time.', fix: 'Send the whole request promptly.' };
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    // Node counts the request line into its header limit (--max-http-header-size, 16 KiB) and reports an over-long
    // URL with this same code, so a 414 cannot be told apart reliably: 431 covers both.
    return { status: 431, message: "The request's URL and headers are too large.", fix: 'Send a shorter URL and fewer or smaller headers.' };
  }
  return { status: 400, message: 'The request is not well-formed HTTP.', fix: 'Send a well-formed HTTP/1.1 request.' };
}

/**
 * Fastify's `clientErrorHandler` (bound to the instance). Fastify's default logs `{ err }` at trace, and Node
 * attaches the offending bytes to that error as `rawPacket`: the request line with its query string and every
 * header, signature included. Here only the parser's code, the status and a correlation id are logged.
 */
export function clientErrorHandler(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  // A reset connection is already gone; there is no one to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = clientErrorAnswer(error.code);
  const correlationId = randomUUID();
  this.log.debug({ clientError: error.code, status: answer.status, correlationId }, 'malformed request refused');
  // As Node's own handler: answer only if no response has started on this connection (keep-alive).
  if (socket.writable && socket.bytesWritten === 0) {
    const body = JSON.stringify(errorBody(new AppError('VALIDATION_FAILED', { message: answer.message, fix: answer.fix }), correlationId, undefined));
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
