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
import { BackendError, failureAlert } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { ContactTickets } from '../shared/types.ts';
import { useLoad } from '../shared/useLoad.ts';

/** "3 more tickets are hidden from you: 3 owned by other teams.", or "At least 3 more ..." when HubSpot has not judged every page. */
export function hiddenLine(hidden: ContactTickets['hidden']): string | null {
  if (hidden.count === 0) return null;
  const noun = hidden.count === 1 ? 'ticket is' : 'tickets are';
  const reasons = hidden.reasons.map((reason) => `${reason.count} ${reason.message}`).join(', ');
  return `${hidden.exact ? '' : 'At least '}${hidden.count} more ${noun} hidden from you: ${reasons}.`;
}

/** Of the pages' counts of hidden tickets, the one that knows most: an exact one, else the largest lower bound. */
const knowsMore = (a: ContactTickets['hidden'], b: ContactTickets['hidden']) => (a.exact ? a : b.exact || b.count > a.count ? b : a);

/**
 * Unlike the ticket card, this card does not call `refreshObjectProperties` after a write: creating a ticket changes no
 * property of the contact, only adds a ticket and its association, and that action re-reads the record's properties.
 * Whether HubSpot's own Tickets card on the contact re-reads its associations is not documented; `reloadPage` would
 * reload the whole record for one new row. So only this card's list is reloaded, and it shows the new ticket.
 */
export function ContactCardView({ client, contactId, actions }: { client: BackendClient; contactId: string; actions: Pick<CrmHostActions, 'addAlert'> }) {
  const [loaded, reload] = useLoad(() => client.contactTickets(contactId));
  // Pages after the first, kept with the first page they follow: a reload starts again from a new first page.
  const [later, setLater] = useState<{ first: ContactTickets; pages: ContactTickets[] } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
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

  const first = loaded.data;
  const pages = [first, ...(later?.first === first ? later.pages : [])];
  const nextPage = (pages[pages.length - 1] ?? first).nextPage;
  // The cursor counts matches: a ticket that starts to match between two pages shifts the next one, so a ticket can come twice.
  const tickets = [...new Map(pages.flatMap((page) => page.tickets).map((ticket) => [ticket.id, ticket])).values()];
  const hidden = pages.map((page) => page.hidden).reduce(knowsMore);
  const hiddenText = hiddenLine(hidden);

  async function showMore(after: string) {
    setLoadingMore(true);
    try {
      const next = await client.contactTickets(contactId, after);
      setLater((current) => ({ first, pages: [...(current?.first === first ? current.pages : []), next] }));
    } catch (error) {
      actions.addAlert(failureAlert(error));
    } finally {
      setLoadingMore(false);
    }
  }

  async function create() {
    setBusy(true);
    try {
      await client.createTicket(contactId, { subject: subject.trim() });
      actions.addAlert({ type: 'success', message: `Ticket "${subject.trim()}" was created and assigned to you.` });
      setSubject('');
      reload();
    } catch (error) {
      actions.addAlert(failureAlert(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Flex direction="column" gap="sm">
      {tickets.length === 0 ? (
        <EmptyState title="No tickets you can see" imageName="tickets" layout="vertical">
          <Text>
            {nextPage !== null
              ? 'None of the tickets checked so far is one you may see.'
              : hidden.count === 0
                ? 'This contact has no tickets yet.'
                : 'Every ticket of this contact is outside your access.'}
          </Text>
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
            {tickets.map((ticket) => (
              <TableRow key={ticket.id}>
                <TableCell>{ticket.subject}</TableCell>
                <TableCell>{ticket.stageLabel ?? '—'}</TableCell>
                <TableCell>{ticket.owner?.name ?? 'Unassigned'}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {nextPage !== null && (
        <Button testId="more-tickets" variant="secondary" disabled={loadingMore} onClick={() => void showMore(nextPage)}>
          Show more
        </Button>
      )}
      {hiddenText !== null && <Text variant="microcopy">{hiddenText}</Text>}
      {first.canCreateTicket.allowed ? (
        <Flex direction="row" gap="sm" align="end">
          <Input label="New ticket" name="subject" placeholder="What is it about?" value={subject} onChange={setSubject} />
          <Button testId="create-ticket" variant="primary" disabled={busy || subject.trim() === ''} onClick={() => void create()}>
            Create ticket
          </Button>
        </Flex>
      ) : (
        <Text variant="microcopy">You can't create tickets here: {first.canCreateTicket.message}</Text>
      )}
    </Flex>
  );
}
