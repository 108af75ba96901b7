import type { PortalApi } from '../hubspot/api.js';
import type { Viewer } from '../viewer/directory.js';

/**
 * What every use case acts for: the verified viewer, and HubSpot for their account (holding the install token the
 * pipeline read once for this request). Built only by the pipeline, after the signature and identity checks.
 */
export interface ViewerContext {
  viewer: Viewer;
  portal: PortalApi;
}
