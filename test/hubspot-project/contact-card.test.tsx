import { Button, EmptyState, ErrorState, Input, LoadingSpinner, TableCell, TableRow, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { ContactCardView } from '../../hubspot-project/app/cards/ContactCardView.tsx';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { errorBody, scriptedFetch, verdict } from './fixtures.ts';

const LIST = 'GET /api/v1/contacts/6001/tickets';
const canCreate = verdict(true, 'ALLOWED_OWNER', 'You own this ticket.');
const list = {
  contactId: '6001',
  canCreateTicket: canCreate,
  tickets: [
    { id: '5001', subject: 'Invoice shows the wrong VAT rate', stageId: '1', stageLabel: 'New', priority: 'HIGH', owner: { ownerId: 7101, name: 'Ana Silva' } },
    { id: '5004', subject: 'Request for a refund', stageId: '1', stageLabel: 'New', priority: 'HIGH', owner: null },
  ],
  hidden: { count: 3, exact: true, reasons: [{ code: 'TEAM_ONLY_OTHER_TEAM', message: 'owned by other teams', count: 3 }] },
  nextPage: null,
};

function renderCard(routes: Parameters<typeof scriptedFetch>[0]) {
  const { fetch, calls } = scriptedFetch(routes);
  const renderer = createRenderer('crm.record.tab');
  renderer.render(
    <ContactCardView client={createBackendClient({ fetch, portalId: 10000001, userId: 2006 })} contactId="6001" actions={renderer.mocks.actions} />,
  );
  return { renderer, calls };
}

const textIn = (node: { findAll: ReturnType<typeof createRenderer>['findAll'] }) =>
  node
    .findAll(Text)
    .map((text) => text.text)
    .join(' ');
const rows = (renderer: ReturnType<typeof createRenderer>) =>
  renderer
    .findAll(TableRow)
    .slice(1)
    .map((row) => row.findAll(TableCell).map((cell) => cell.text));

describe('contact card', () => {
  it('lists the tickets the viewer may see, with status and owner, and says how many are hidden and why', async () => {
    const { renderer } = renderCard({ [LIST]: { status: 200, body: list } });
    expect(renderer.maybeFind(LoadingSpinner)).not.toBeNull();
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(rows(renderer)).toEqual([
      ['Invoice shows the wrong VAT rate', 'New', 'Ana Silva'],
      ['Request for a refund', 'New', 'Unassigned'],
    ]);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('3 more tickets are hidden from you: 3 owned by other teams.');
  });

  it('creates a ticket for the contact, then refreshes the list', async () => {
    let listed = 0;
    const { renderer, calls } = renderCard({
      [LIST]: () => {
        listed += 1;
        return { status: 200, body: list };
      },
      'POST /api/v1/contacts/6001/tickets': { status: 200, body: { result: { id: '900001' } } },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(renderer.findByTestId(Button, 'create-ticket').props.disabled).toBe(true);
    renderer.find(Input).trigger('onChange', 'Damaged parcel' as never);
    await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'create-ticket').props.disabled).toBe(false));
    renderer.findByTestId(Button, 'create-ticket').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(1));
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ subject: 'Damaged parcel' });
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({
      type: 'success',
      message: 'Ticket "Damaged parcel" was created and assigned to you.',
    });
    await renderer.waitFor(() => expect(listed).toBe(2));
  });

  it('explains why the viewer may not create tickets instead of offering the form', async () => {
    const { renderer } = renderCard({
      [LIST]: {
        status: 200,
        body: { ...list, canCreateTicket: verdict(false, 'NO_PERMISSION', "You don't have the Edit permission for tickets in HubSpot.") },
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(renderer.maybeFind(Input)).toBeNull();
    expect(renderer.findAll(Text).map((node) => node.text)).toContain(
      "You can't create tickets here: You don't have the Edit permission for tickets in HubSpot.",
    );
  });

  it('shows an empty state that tells "no tickets" from "none you may see"', async () => {
    const none = renderCard({ [LIST]: { status: 200, body: { ...list, tickets: [], hidden: { count: 0, exact: true, reasons: [] } } } });
    await none.renderer.waitFor(() => expect(none.renderer.maybeFind(EmptyState)).not.toBeNull());
    expect(textIn(none.renderer.find(EmptyState))).toContain('This contact has no tickets yet.');
    const hidden = renderCard({ [LIST]: { status: 200, body: { ...list, tickets: [] } } });
    await hidden.renderer.waitFor(() => expect(hidden.renderer.maybeFind(EmptyState)).not.toBeNull());
    expect(textIn(hidden.renderer.find(EmptyState))).toContain('Every ticket of this contact is outside your access.');
  });

  it('shows more tickets a page at a time, asking for the page after the last one shown, and says when a count is a lower bound', async () => {
    const denied = (count: number) => ({ count, exact: false, reasons: [{ code: 'DENIED_BY_HUBSPOT', message: 'outside your HubSpot permissions', count }] });
    const pages: Record<string, unknown> = {
      '': { ...list, tickets: [list.tickets[0]], hidden: denied(2), nextPage: '20' },
      '20': { ...list, tickets: [list.tickets[1]], hidden: denied(1), nextPage: '40' },
      '40': { ...list, tickets: [], hidden: denied(3), nextPage: null },
    };
    const { fetch, calls } = scriptedFetch({});
    fetch.mockImplementation(async (url) => {
      calls.push({ method: 'GET', url, body: undefined });
      return { ok: true, status: 200, json: async () => pages[new URL(url).searchParams.get('after') ?? ''] };
    });
    const renderer = createRenderer('crm.record.tab');
    renderer.render(
      <ContactCardView client={createBackendClient({ fetch, portalId: 10000001, userId: 2006 })} contactId="6001" actions={renderer.mocks.actions} />,
    );
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(rows(renderer)).toEqual([['Invoice shows the wrong VAT rate', 'New', 'Ana Silva']]);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('At least 2 more tickets are hidden from you: 2 outside your HubSpot permissions.');

    renderer.findByTestId(Button, 'more-tickets').trigger('onClick');
    await renderer.waitFor(() => expect(rows(renderer)).toHaveLength(2));
    expect(rows(renderer)[1]).toEqual(['Request for a refund', 'New', 'Unassigned']);
    // Each page's count is a lower bound: the card keeps the largest it was told.
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('At least 2 more tickets are hidden from you: 2 outside your HubSpot permissions.');

    renderer.findByTestId(Button, 'more-tickets').trigger('onClick');
    await renderer.waitFor(() =>
      expect(renderer.findAll(Text).map((node) => node.text)).toContain('At least 3 more tickets are hidden from you: 3 outside your HubSpot permissions.'),
    );
    expect(renderer.maybeFindByTestId(Button, 'more-tickets')).toBeNull();
    expect(calls.map((call) => new URL(call.url).searchParams.get('after'))).toEqual([null, '20', '40']);
    // The card sends its own context under its own names, and never HubSpot's.
    expect(new URL(calls[1]!.url).searchParams.get('vgUserId')).toBe('2006');
  });

  it('explains a contact the viewer may not open', async () => {
    const { renderer } = renderCard({
      [LIST]: {
        status: 403,
        body: errorBody(
          'OWNED_ONLY_NOT_OWNER',
          'You can only open contacts you own. This one is owned by Ana Silva.',
          'Ask a Super Admin to give you Team access to contacts, or ask Ana to reassign it.',
        ),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(EmptyState)).not.toBeNull());
    expect(renderer.find(EmptyState).props.title).toBe("You can't see this contact's tickets here");
    expect(textIn(renderer.find(EmptyState))).toContain('owned by Ana Silva');
  });

  it('says when the app is not installed, without a retry that cannot help', async () => {
    const { renderer } = renderCard({
      [LIST]: {
        status: 409,
        body: errorBody(
          'NOT_INSTALLED',
          'Viewer Guard is not installed in this HubSpot account yet.',
          'A Super Admin installs it once.',
          'https://viewer-guard.example.com/',
        ),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('Viewer Guard is not installed yet');
    expect(renderer.maybeFind(Button)).toBeNull();
  });
});
