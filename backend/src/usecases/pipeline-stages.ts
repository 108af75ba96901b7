import type { PortalApi } from '../hubspot/api.js';
import type { PipelineStage } from '../hubspot/crm.js';
import type { CacheRegistry } from '../lib/bounded-cache.js';
import { createTtlCache } from '../lib/ttl-cache.js';

/** A pipeline's stages as read from HubSpot, when that read started, and whether a stage it lacked prompted it. */
interface Pipeline {
  loadedAt: number;
  stages: PipelineStage[] | undefined;
  forUnknownStage: boolean;
}

export interface PipelineStages {
  /**
   * The stages of a ticket pipeline (null: the default one); undefined when it does not exist. `seen`: a stage a record
   * (or a request) names, which a pipeline read before that stage was added would not know.
   */
  stagesOf(portal: PortalApi, pipelineId: string | null, seen?: string | null): Promise<PipelineStage[] | undefined>;
}

export interface PipelineStagesOptions {
  now: () => number;
  ttlMs?: number;
  /** A stage still unknown after the pipeline was read again for it reads it again only this much later. */
  reloadAfterMs?: number;
  maxBytes?: number;
  registry?: CacheRegistry;
}

/** Pipelines are account settings an admin changes now and then; a stage they add shows sooner (below). */
const PIPELINE_TTL_MS = 5 * 60_000;
/**
 * How long a stage still unknown after a read made for it waits for the next: a ticket in an archived stage (which the
 * pipeline read leaves out), or a stage id a viewer made up, must not cost a HubSpot call on every view.
 */
const UNKNOWN_STAGE_RELOAD_MS = 30_000;
/** A pipeline of 10 stages is about 2 KB (lib/byte-size.ts estimates each): some 2,000 of them. */
export const PIPELINE_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * Ticket pipelines and their stages, per account and pipeline, so a warm ticket view asks HubSpot for the ticket alone.
 * Bound: `ttlMs` (5 minutes) and `maxBytes` (PIPELINE_CACHE_BYTES), least recently used first out. Invalidated when a
 * record names a stage the cached pipeline does not know (an admin added it since); a stage still unknown after that
 * read waits `reloadAfterMs` (30 s) for the next. A stage renamed or removed in HubSpot shows within the TTL: until then
 * the card offers it as it was, and a move to a removed stage gets HubSpot's own answer. Failed reads are not kept; a
 * read in progress is shared, each request waiting for it no longer than its own deadline.
 */
export function createPipelineStages(options: PipelineStagesOptions): PipelineStages {
  const reloadAfterMs = options.reloadAfterMs ?? UNKNOWN_STAGE_RELOAD_MS;
  const cache = createTtlCache<Pipeline>({
    name: 'pipelines',
    ttlMs: options.ttlMs ?? PIPELINE_TTL_MS,
    maxBytes: options.maxBytes ?? PIPELINE_CACHE_BYTES,
    now: options.now,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });

  const read = (portal: PortalApi, key: string, pipelineId: string | null, forUnknownStage = false) =>
    cache.getOrLoad(key, async () => {
      const loadedAt = options.now();
      return { loadedAt, stages: await portal.getTicketStages(pipelineId), forUnknownStage };
    });
  const waited = (portal: PortalApi, pipeline: Promise<Pipeline>) => portal.deadline.wait(pipeline, 'HubSpot did not answer in time');

  return {
    async stagesOf(portal, pipelineId, seen) {
      const key = `${portal.portalId}:${pipelineId ?? ''}`;
      const pipeline = await waited(portal, read(portal, key, pipelineId));
      const known = seen === undefined || seen === null || (pipeline.stages ?? []).some((stage) => stage.id === seen);
      if (known || (pipeline.forUnknownStage && options.now() - pipeline.loadedAt < reloadAfterMs)) return pipeline.stages;
      // Another request may have read it again meanwhile: the cache then holds (or is reading) another pipeline.
      const current = await waited(portal, read(portal, key, pipelineId));
      if (current !== pipeline) return current.stages;
      cache.delete(key);
      return (await waited(portal, read(portal, key, pipelineId, true))).stages;
    },
  };
}
