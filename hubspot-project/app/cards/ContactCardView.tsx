import { useState } from 'react';
import {
  Button,
  EmptyState,
  Flex,
  Input,
  LoadingSpinner,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
  type CrmHostActions,
} from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { BackendError, describeError } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { ContactTickets } from '../shared/types.ts';
import { useLoad } from '../shared/useLoad.ts';

/** "3 more tickets are hidden from you: 2 owned by other teams, 1 not assigned to anyone." */
export function hiddenLine(hidden: ContactTickets['hidden']): string | null {
  if (hidden.count === 0) return null;
  const noun = hidden.count === 1 ? 'ticket is' : 'tickets are';
  return `${hidden.count} more ${noun} hidden from you: ${hidden.reasons.map((reason) => `${reason.count} ${reason.message}`).join(', ')}.`;
}

/**
 * Unlike the ticket card, this card does not call `refreshObjectProperties` after a write: creating a ticket changes no
 * property of the contact, only adds a ticket and its association, and that action re-reads the record's properties.
 * Whether HubSpot's own Tickets card on the contact re-reads its associations is not documented; `reloadPage` would
 * reload the whole record for one new row. So only this card's list is reloaded, and it shows the new ticket.
 */
export function ContactCardView({ client, contactId, actions }: { client: BackendClient; contactId: string; actions: Pick<CrmHostActions, 'addAlert'> }) {
  const [loaded, reload] = useLoad(() => client.contactTickets(contactId));
  const [subject, setSubject] = useState('');
  const [busy, setBusy] = useState(false);

  if (loaded.state === 'loading') return <LoadingSpinner label="Loading the tickets you may see…" showLabel />;
  if (loaded.state === 'error') {
    const error = loaded.error;
    if (error instanceof BackendError && error.status === 403 && error.code !== 'USER_NOT_IN_PORTAL') {
      return (
        <EmptyState title="You can't see this contact's tickets here" imageName="lock" layout="vertical">
          <Text>{error.message}</Text>
          {error.fix !== null && <Text variant="microcopy">{error.fix}</Text>}
        </EmptyState>
      );
    }
    return <ErrorView error={error} onRetry={reload} />;
  }

  const data = loaded.data;
  const hidden = hiddenLine(data.hidden);

  async function create() {
    setBusy(true);
    try {
      await client.createTicket(contactId, { subject: subject.trim() });
      actions.addAlert({ type: 'success', message: `Ticket "${subject.trim()}" was created and assigned to you.` });
      setSubject('');
      reload();
    } catch (error) {
      const described = describeError(error);
      actions.addAlert({ type: 'danger', title: described.title, message: described.message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Flex direction="column" gap="sm">
      {data.tickets.length === 0 ? (
        <EmptyState title="No tickets you can see" imageName="tickets" layout="vertical">
          <Text>{data.hidden.count === 0 ? 'This contact has no tickets yet.' : 'Every ticket of this contact is outside your access.'}</Text>
        </EmptyState>
      ) : (
        <Table>
          <TableHead>
            <TableRow>
              <TableHeader>Ticket</TableHeader>
              <TableHeader>Status</TableHeader>
              <TableHeader>Owner</TableHeader>
            </TableRow>
          </TableHead>
          <TableBody>
            {data.tickets.map((ticket) => (
              <TableRow key={ticket.id}>
                <TableCell>{ticket.subject}</TableCell>
                <TableCell>{ticket.stageLabel ?? '—'}</TableCell>
                <TableCell>{ticket.owner?.name ?? 'Unassigned'}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {hidden !== null && <Text variant="microcopy">{hidden}</Text>}
      {data.canCreateTicket.allowed ? (
        <Flex direction="row" gap="sm" align="end">
          <Input label="New ticket" name="subject" placeholder="What is it about?" value={subject} onChange={setSubject} />
          <Button testId="create-ticket" variant="primary" disabled={busy || subject.trim() === ''} onClick={() => void create()}>
            Create ticket
          </Button>
        </Flex>
      ) : (
        <Text variant="microcopy">You can't create tickets here: {data.canCreateTicket.message}</Text>
      )}
    </Flex>
  );
}
