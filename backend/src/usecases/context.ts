import type { PortalApi } from '../hubspot/api.js';
import type { WriteIntent, WriteOutcome } from '../store/index.js';
import type { Viewer } from '../viewer/directory.js';

/**
 * What every use case acts for: the verified viewer, and HubSpot for their account (holding the install token the
 * pipeline read once for this request). Built only by the pipeline, after the signature and identity checks.
 */
export interface ViewerContext {
  viewer: Viewer;
  portal: PortalApi;
}

/**
 * A write's durable record, kept by the pipeline on the request's exactly-once claim (pipeline/signed-api.ts): the
 * intent is stored before anything is sent to HubSpot, and the outcome is stored with the request's answer, in one
 * transaction, or found later by the sweeper.
 */
export interface WriteJournal {
  /** Throws DATABASE_UNAVAILABLE when the database cannot take it: then nothing may be sent to HubSpot. */
  intend(intent: WriteIntent): Promise<void>;
  /** How the write ended, for its audit entry; stored when the request is answered. */
  settle(outcome: WriteOutcome): void;
}

/** What a write use case acts for: the viewer, HubSpot for their account, and the write's journal. */
export interface WriteContext extends ViewerContext {
  journal: WriteJournal;
}
