import { hubspot } from '@hubspot/ui-extensions';
import { createBackendClient } from '../shared/backend-client.ts';
import { SettingsPageView } from './SettingsPageView.tsx';

hubspot.extend<'settings'>(({ context, actions }) => (
  <SettingsPageView client={createBackendClient({ fetch: hubspot.fetch, portalId: context.portal.id, userId: context.user.id })} actions={actions} />
));
