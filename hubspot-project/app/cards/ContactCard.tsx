import { hubspot } from '@hubspot/ui-extensions';
import { createBackendClient } from '../shared/backend-client.ts';
import { ContactCardView } from './ContactCardView.tsx';

hubspot.extend<'crm.record.tab'>(({ context, actions }) => (
  <ContactCardView
    client={createBackendClient({ fetch: hubspot.fetch, portalId: context.portal.id, userId: context.user.id })}
    contactId={String(context.crm.objectId)}
    actions={actions}
  />
));
