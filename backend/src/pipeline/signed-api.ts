import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import type { PortalApi } from '../hubspot/api.js';
import type { Deadline, Deadlines } from '../hubspot/deadline.js';
import { readSignedIdentity, type IdentityFailure, type IdentitySource, type SignedIdentity } from '../hubspot/identity.js';
import { precheckSignature, signedUri, verifySignatureV3 } from '../hubspot/signature.js';
import type { WriteIntent, WriteOutcome, WriteRequestStore } from '../store/index.js';
import type { ViewerContext, WriteContext, WriteJournal } from '../usecases/context.js';
import type { Viewer } from '../viewer/directory.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's one budget for HubSpot, from its arrival: the viewer, the token and every HubSpot call end there. */
    deadline: Deadline | null;
    /** Set only after the HubSpot signature verified: the one source of "who is asking". */
    identity: SignedIdentity | null;
    /** Set once per request, after the identity: the viewer as HubSpot knows them. */
    viewer: Viewer | null;
    /** HubSpot for the viewer's account, holding the install token read for this request. */
    portal: PortalApi | null;
    /** A write route's claim on this signed request, and its journal (see the exactly-once step). */
    claimedWrite: ClaimedWrite | null;
  }
}

export interface SignedApiOptions {
  clientSecret: string;
  publicBaseUrl: string;
  appId: number | undefined;
  /** ALLOW_CARD_IDENTITY: the card's own names may identify the viewer when HubSpot's are absent (never in production). */
  allowCardIdentity: boolean;
  /** Told where each accepted identity came from, for the settings page's status. */
  recordIdentitySource(portalId: number, source: IdentitySource): void;
  now: () => number;
  /** HubSpot's hubspot.fetch() payload limit is 1 MB; nothing legitimate is bigger. */
  bodyLimitBytes: number;
  /**
   * The installation (read once) and the viewer's profile, within the request's deadline: throws NOT_INSTALLED,
   * INSTALL_NEEDS_REPAIR, USER_NOT_IN_PORTAL.
   */
  resolveViewer(identity: SignedIdentity, deadline: Deadline): Promise<ViewerContext>;
  writeRequests: WriteRequestStore;
  /** Where each request's deadline comes from (hubspot/deadline.ts). */
  deadlines: Pick<Deadlines, 'card'>;
}

/** The database refused a write's claim or intent, so nothing was sent to HubSpot; a retry a little later may get through. */
const databaseUnavailable = (cause: unknown) => new AppError('DATABASE_UNAVAILABLE', { cause, retryAfterSeconds: 5 });
/**
 * Attempts, within the request, to store the answer and audit entry of a write that reached HubSpot. Only a first try:
 * if all fail, the intent stays open in the database and the sweeper (app.ts) audits it.
 */
const SETTLE_ATTEMPTS = 3;
const SETTLE_RETRY_DELAY_MS = 50;

/**
 * One claimed write request's journal: the intent goes to the database before HubSpot is called (refused: 503
 * DATABASE_UNAVAILABLE and nothing is sent); the outcome waits in memory for the answer, which the onSend hook stores
 * together with it.
 */
class ClaimedWrite implements WriteJournal {
  intended = false;
  outcome: WriteOutcome | null = null;
  constructor(
    readonly key: string,
    private readonly store: WriteRequestStore,
    private readonly now: () => number,
  ) {}

  async intend(intent: WriteIntent): Promise<void> {
    try {
      await this.store.intend(this.key, intent, new Date(this.now()));
    } catch (cause) {
      throw databaseUnavailable(cause);
    }
    this.intended = true;
  }

  settle(outcome: WriteOutcome): void {
    this.outcome = outcome;
  }
}

/** A header sent twice arrives joined (", ") or as an array: neither is what HubSpot sends, and neither verifies. */
const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/** The refusal for an identity that did not pass; when HubSpot's names are missing, it says exactly which. */
function identityError(failure: IdentityFailure): AppError {
  if (failure.failure !== 'HUBSPOT_IDENTITY_MISSING') return new AppError(failure.failure);
  return new AppError('HUBSPOT_IDENTITY_MISSING', {
    message: `HubSpot did not add ${failure.missing.join(' and ')} to this request, so nothing HubSpot vouches for says who is asking.`,
  });
}

/** Reads the whole body before anything parses it, refusing at once past the limit. */
async function readBody(payload: NodeJS.ReadableStream, declaredLength: string | undefined, limit: number): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > limit) throw new AppError('BODY_TOO_LARGE');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new AppError('BODY_TOO_LARGE');
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/**
 * The signed API's request path, registered in one place and in this order (README "How a request flows"):
 * 1. preParsing: the HubSpot signature over the raw bytes (before any parser, whatever the content type), then the
 *    signed identity from the query string, then the request's deadline, counted from its arrival;
 * 2. parsing: JSON only; a body of another type is refused 415, after the signature;
 * 3. preValidation: the viewer, resolved once, then the route guard from the route's config (admin routes refuse
 *    non-admins here, before the body is validated);
 * 4. validation, then, on write routes, exactly once: HubSpot retries a hubspot.fetch after a connection failure or a
 *    5xx with the same signature, so a repeat of a signed write gets the first answer instead of a second write;
 * 5. the handler (one use case) and the response schema, per route.
 * Register inside the SIGNED_PREFIX scope only.
 */
export const signedApiPlugin = fp<SignedApiOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('deadline', null);
    app.decorateRequest('identity', null);
    app.decorateRequest('viewer', null);
    app.decorateRequest('portal', null);
    app.decorateRequest('claimedWrite', null);

    app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
      const headers = precheckSignature(
        { signature: single(request.headers['x-hubspot-signature-v3']), timestamp: single(request.headers['x-hubspot-request-timestamp']) },
        options.now(),
      );
      if (!headers.ok) throw new AppError(headers.failure);
      const body = await readBody(payload, single(request.headers['content-length']), options.bodyLimitBytes);
      const rawUrl = request.raw.url ?? request.url;
      const check = verifySignatureV3(
        { method: request.method, uri: signedUri(options.publicBaseUrl, rawUrl), body, signature: headers.signature, timestamp: headers.timestamp },
        options.clientSecret,
        options.now(),
      );
      if (!check.ok) throw new AppError(check.failure);
      const identity = readSignedIdentity(rawUrl, { expectedAppId: options.appId, allowCardIdentity: options.allowCardIdentity });
      if (!identity.ok) throw identityError(identity);
      if (identity.identity.source === 'card') {
        // Without the ids: the line is there to show that a card, not HubSpot, named the viewer.
        request.log.warn({ identitySource: 'card' }, 'viewer identity taken from the card (ALLOW_CARD_IDENTITY=true), not from HubSpot');
      }
      options.recordIdentitySource(identity.identity.portalId, identity.identity.source);
      request.identity = identity.identity;
      // Only a verified request gets one; hubspot.fetch's clock started before the body was read, and so does this.
      request.deadline = options.deadlines.card(reply.elapsedTime);
      return Readable.from(body.length === 0 ? [] : [body]);
    });

    // The only bodies the API takes; an empty body (any type) is no body.
    app.removeAllContentTypeParsers();
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text === '') done(null, undefined);
      else void parseJson(request, text, done);
    });
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      if (body.length === 0) done(null, undefined);
      else done(new AppError('UNSUPPORTED_MEDIA_TYPE'), undefined);
    });

    app.addHook('preValidation', async (request: FastifyRequest) => {
      if (request.identity === null) throw new AppError('SIGNATURE_MISSING');
      if (request.deadline === null) throw new AppError('INTERNAL', { message: 'This request has no deadline.' });
      const { viewer, portal } = await options.resolveViewer(request.identity, request.deadline);
      request.viewer = viewer;
      request.portal = portal;
      const auth = request.routeOptions.config.auth;
      if (auth === 'admin' && !viewer.superAdmin) throw new AppError('NOT_AN_ADMIN');
      if (auth !== 'admin' && auth !== 'viewer') throw new AppError('INTERNAL', { message: 'This route declares no signed guard.' });
    });

    app.addHook('preHandler', async (request: FastifyRequest, reply) => {
      if (request.routeOptions.config.write === undefined || request.identity === null) return undefined;
      const signature = single(request.headers['x-hubspot-signature-v3']) ?? '';
      // The signature covers method, URL (identity included), body and timestamp: equal signatures, equal requests.
      const key = createHash('sha256').update(signature).digest('hex');
      const claim = await options.writeRequests.claim(key, request.identity.portalId, new Date(options.now())).catch((cause: unknown) => {
        throw databaseUnavailable(cause);
      });
      if (claim.kind === 'pending') throw new AppError('WRITE_IN_PROGRESS');
      if (claim.kind === 'answered') {
        request.log.info({ statusCode: claim.statusCode }, 'repeated write answered from the first result');
        return reply.code(claim.statusCode).type('application/json; charset=utf-8').header('x-viewer-guard-repeat', 'true').send(claim.response);
      }
      request.claimedWrite = new ClaimedWrite(key, options.writeRequests, options.now);
      return undefined;
    });

    // The answer and the write's audit entry commit together. The viewer gets the answer either way: once HubSpot has
    // accepted a write, a database failure here must not turn it into an error, and the open intent is the sweeper's.
    app.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
      const claimed = request.claimedWrite;
      if (claimed === null) return payload;
      request.claimedWrite = null;
      const answer =
        typeof payload === 'string' && keepsAnswer(request, reply.statusCode, claimed) ? { statusCode: reply.statusCode, response: payload } : null;
      const ending = { answer, outcome: claimed.outcome };
      let failure: unknown;
      for (let attempt = 1; attempt <= (claimed.intended ? SETTLE_ATTEMPTS : 1); attempt += 1) {
        if (attempt > 1) await delay(SETTLE_RETRY_DELAY_MS * (attempt - 1));
        try {
          await options.writeRequests.settle(claimed.key, ending, new Date(options.now()));
          return payload;
        } catch (error) {
          failure = error;
        }
      }
      request.log.error(
        { err: failure, outcome: claimed.outcome?.outcome ?? null },
        claimed.intended
          ? 'the answer and audit entry of a write sent to HubSpot could not be stored; the sweeper will audit it'
          : 'the claim of a write never sent to HubSpot could not be freed',
      );
      return payload;
    });
  },
  { name: 'signed-api' },
);

/**
 * Whether a repeat of this write gets this answer rather than running again. Every answer below 500 is final. After a
 * 5xx, a write that never reached HubSpot (no intent stored) may run again, and so may an update (setting the same
 * owner or stage twice changes nothing) and a create HubSpot refused unprocessed; any other create may have made its
 * record at HubSpot, so its repeat gets the same answer instead of a second record.
 */
function keepsAnswer(request: FastifyRequest, statusCode: number, claimed: ClaimedWrite): boolean {
  if (statusCode < 500) return true;
  if (!claimed.intended || request.routeOptions.config.creates !== true) return false;
  return claimed.outcome?.outcome !== 'failed';
}

/** For handlers behind the pipeline: the resolved viewer, or a fail-closed error if the pipeline was bypassed. */
export function viewerOf(request: FastifyRequest): ViewerContext {
  if (request.viewer === null || request.portal === null) throw new AppError('SIGNATURE_MISSING');
  return { viewer: request.viewer, portal: request.portal };
}

/** For write handlers: the viewer and the write's journal; fails closed on a route the exactly-once step did not claim. */
export function writerOf(request: FastifyRequest): WriteContext {
  const journal = request.claimedWrite;
  if (journal === null) throw new AppError('INTERNAL', { message: 'This write was not claimed before it ran.' });
  return { ...viewerOf(request), journal };
}
