import { hubspot } from '@hubspot/ui-extensions';
import { createBackendClient } from '../shared/backend-client.ts';
import { TicketCardView } from './TicketCardView.tsx';

hubspot.extend<'crm.record.tab'>(({ context, actions }) => (
  <TicketCardView
    client={createBackendClient({ fetch: hubspot.fetch, portalId: context.portal.id, userId: context.user.id })}
    ticketId={String(context.crm.objectId)}
    actions={actions}
  />
));
