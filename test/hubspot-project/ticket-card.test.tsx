import { Alert, Button, ErrorState, Link, LoadingSpinner, Select, Text, TextArea } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { TicketCardView } from '../../hubspot-project/app/cards/TicketCardView.tsx';
import { errorBody, scriptedFetch, teamTicket, verdict } from './fixtures.ts';

const ACCESS = 'GET /api/v1/records/tickets/5003/access';

function renderCard(routes: Parameters<typeof scriptedFetch>[0]) {
  const { fetch, calls } = scriptedFetch(routes);
  const renderer = createRenderer('crm.record.tab');
  const client = createBackendClient({ fetch, portalId: 10000001, userId: 2006 });
  renderer.render(<TicketCardView client={client} ticketId="5003" actions={renderer.mocks.actions} />);
  return { renderer, calls, fetch };
}

type Rendered = ReturnType<typeof renderCard>['renderer'];

/** Each write the card offers: the request it sends, and what a user does to send it. */
const WRITES: Array<{ name: string; route: string; start: (renderer: Rendered) => Promise<void> }> = [
  {
    name: 'assign to me',
    route: 'POST /api/v1/tickets/5003/assign-to-me',
    start: async (renderer) => renderer.findByTestId(Button, 'assign-to-me').trigger('onClick'),
  },
  {
    name: 'move stage',
    route: 'POST /api/v1/tickets/5003/stage',
    start: async (renderer) => {
      renderer.find(Select).trigger('onChange', '2' as never);
      await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'move-stage').props.disabled).toBe(false));
      renderer.findByTestId(Button, 'move-stage').trigger('onClick');
    },
  },
  {
    name: 'add note',
    route: 'POST /api/v1/tickets/5003/notes',
    start: async (renderer) => {
      renderer.find(TextArea).trigger('onChange', 'Called the customer' as never);
      await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'add-note').props.disabled).toBe(false));
      renderer.findByTestId(Button, 'add-note').trigger('onClick');
    },
  },
];

describe.each(WRITES)("$name keeps HubSpot's record page true", ({ route, start }) => {
  it("asks HubSpot to re-read the record's properties exactly once after the write succeeds", async () => {
    let accessCalls = 0;
    const { renderer, calls } = renderCard({
      [ACCESS]: () => {
        accessCalls += 1;
        return { status: 200, body: teamTicket };
      },
      [route]: { status: 200, body: { result: {} } },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(0);
    await start(renderer);
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls).toHaveLength(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'success' });
    // The card has reloaded its own view too; that reload brings no second refresh.
    await renderer.waitFor(() => expect(accessCalls).toBe(2));
    expect(calls.filter((call) => call.method === 'POST')).toHaveLength(1);
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(1);
  });

  it.each([
    [
      'is refused by the backend',
      { status: 403, body: errorBody('TEAM_ONLY_OTHER_TEAM', 'You can only edit tickets owned by you or your team.', 'Ask a Super Admin for All access.') },
    ],
    ['fails at HubSpot', { status: 502, body: errorBody('HUBSPOT_UNAVAILABLE', 'HubSpot did not answer.', 'Try again in a minute.') }],
    ['cannot reach the backend', new Error('socket hang up')],
  ])('never asks HubSpot to re-read when the write %s', async (_case, answer) => {
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: teamTicket }, [route]: answer });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    await start(renderer);
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls).toHaveLength(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'danger' });
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(0);
  });
});

describe('ticket card', () => {
  it("shows a spinner while it asks the backend, with the viewer's context under its own names, never HubSpot's", async () => {
    const { renderer, calls } = renderCard({ [ACCESS]: { status: 200, body: teamTicket } });
    expect(renderer.find(LoadingSpinner).props.label).toContain('Checking');
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    expect(calls[0]?.url).toBe('https://viewer-guard.example.com/api/v1/records/tickets/5003/access?vgPortalId=10000001&vgUserId=2006');
  });

  it('says who owns the ticket and which access the viewer has, and disables what is refused with the reason', async () => {
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: teamTicket } });
    await renderer.waitFor(() => expect(renderer.findAll(Text).length).toBeGreaterThan(1));
    const texts = renderer.findAll(Text).map((node) => node.text);
    expect(texts).toContain('Owned by Carla Mendes, Support EU. You have Team and unassigned access.');
    expect(renderer.findByTestId(Button, 'assign-to-me').props.disabled).toBe(false);
    expect(texts).toContain("You don't have the Delete permission for tickets in HubSpot. Ask a Super Admin to give you Delete access to tickets.");
  });

  it('disables every write, each with the reason and fix, when edit is refused', async () => {
    const refused = {
      ...teamTicket,
      verdicts: {
        ...teamTicket.verdicts,
        edit: verdict(
          false,
          'TEAM_ONLY_OTHER_TEAM',
          'You can only edit tickets owned by you or your team (Support EU). This one is owned by Bob Stone, who is not on your team.',
          { fix: 'Ask a Super Admin to give you All access to tickets, or ask Bob to reassign it.' },
        ),
      },
    };
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: refused } });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    for (const id of ['assign-to-me', 'move-stage', 'add-note']) expect(renderer.findByTestId(Button, id).props.disabled).toBe(true);
    expect(renderer.find(TextArea).props.readOnly).toBe(true);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain(
      'You can only edit tickets owned by you or your team (Support EU). This one is owned by Bob Stone, who is not on your team. Ask a Super Admin to give you All access to tickets, or ask Bob to reassign it.',
    );
  });

  it('assigns to me with one click: the right request, a success alert, and a refresh', async () => {
    let accessCalls = 0;
    const { renderer, calls } = renderCard({
      [ACCESS]: () => {
        accessCalls += 1;
        return { status: 200, body: teamTicket };
      },
      'POST /api/v1/tickets/5003/assign-to-me': { status: 200, body: { result: {} } },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    renderer.findByTestId(Button, 'assign-to-me').trigger('onClick');
    await renderer.waitFor(() => expect(calls.map((call) => call.method)).toContain('POST'));
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBeGreaterThan(0));
    expect(
      calls.some(
        (call) =>
          call.method === 'POST' && call.url.startsWith('https://viewer-guard.example.com/api/v1/tickets/5003/assign-to-me?vgPortalId=10000001&vgUserId=2006'),
      ),
    ).toBe(true);
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'success' });
    await renderer.waitFor(() => expect(accessCalls).toBe(2));
  });

  it('adds a note with the typed text', async () => {
    const { renderer, calls } = renderCard({
      [ACCESS]: { status: 200, body: teamTicket },
      'POST /api/v1/tickets/5003/notes': { status: 200, body: { result: { id: '1' } } },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    renderer.find(TextArea).trigger('onChange', 'Called the customer' as never);
    await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'add-note').props.disabled).toBe(false));
    renderer.findByTestId(Button, 'add-note').trigger('onClick');
    await renderer.waitFor(() => expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ body: 'Called the customer' }));
  });

  it('explains a refused ticket instead of showing actions', async () => {
    const { renderer } = renderCard({
      [ACCESS]: {
        status: 403,
        body: errorBody(
          'OWNED_ONLY_NOT_OWNER',
          'You can only open tickets you own. This one is owned by Ana Silva.',
          'Ask a Super Admin to give you Team access to tickets, or ask Ana to reassign it.',
        ),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(Alert)).not.toBeNull());
    expect(renderer.find(Alert).text).toContain('This one is owned by Ana Silva. Ask a Super Admin');
    expect(renderer.maybeFind(Button)).toBeNull();
  });

  it('tells admins how to repair a broken install, with the link', async () => {
    const { renderer } = renderCard({
      [ACCESS]: {
        status: 409,
        body: errorBody(
          'INSTALL_NEEDS_REPAIR',
          'Viewer Guard lost its connection to this HubSpot account.',
          'A Super Admin reinstalls it once.',
          'https://viewer-guard.example.com/',
        ),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('Viewer Guard needs to be reconnected');
    expect(renderer.find(Link).props.href).toBe('https://viewer-guard.example.com/');
    expect(renderer.maybeFind(Button)).toBeNull();
  });

  it('offers a retry when HubSpot is rate limiting, and recovers', async () => {
    let first = true;
    const { renderer } = renderCard({
      [ACCESS]: () => {
        if (first) {
          first = false;
          return {
            status: 503,
            body: errorBody('HUBSPOT_RATE_LIMITED', 'HubSpot asked us to slow down for this account.', 'Wait a few seconds and try again.'),
          };
        }
        return { status: 200, body: teamTicket };
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('HubSpot is busy');
    renderer.find(ErrorState).find(Button).trigger('onClick');
    await renderer.waitFor(() => expect(renderer.findAll(Text).map((node) => node.text)).toContain('Export to CSV times out'));
  });

  it('says when to try again when HubSpot asked us to slow down', async () => {
    const limited = {
      error: {
        ...errorBody('HUBSPOT_RATE_LIMITED', 'HubSpot asked us to slow down for this account.', 'Wait a few seconds and try again.').error,
        retryAfter: 8,
      },
    };
    const { renderer } = renderCard({ [ACCESS]: { status: 503, body: limited } });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('HubSpot is busy');
    expect(
      renderer
        .find(ErrorState)
        .findAll(Text)
        .map((node) => node.text),
    ).toEqual(['HubSpot asked us to slow down; try again in 8 seconds.']);
    expect(renderer.find(ErrorState).find(Button).text).toBe('Try again');
  });

  it('says when to try again when a write is rate limited', async () => {
    const limited = {
      error: {
        ...errorBody('HUBSPOT_RATE_LIMITED', 'HubSpot asked us to slow down for this account.', 'Wait a few seconds and try again.').error,
        retryAfter: 1,
      },
    };
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: teamTicket }, 'POST /api/v1/tickets/5003/assign-to-me': { status: 503, body: limited } });
    await renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
    renderer.findByTestId(Button, 'assign-to-me').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBeGreaterThan(0));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toEqual({
      type: 'danger',
      title: 'HubSpot is busy',
      message: 'HubSpot asked us to slow down; try again in 1 second.',
    });
  });

  it('says when the backend cannot be reached at all', async () => {
    const { renderer } = renderCard({ [ACCESS]: new Error('getaddrinfo ENOTFOUND') });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('Viewer Guard could not be reached');
    expect(renderer.find(Button).text).toBe('Try again');
  });
});

describe('what the card says of a backend that cannot serve', () => {
  it.each([
    ['DATABASE_UNAVAILABLE', 'Viewer Guard is briefly unavailable', true],
    ['ENCRYPTION_KEY_MISMATCH', 'Viewer Guard is misconfigured', false],
  ])('%s: a title of its own, and a retry only when waiting helps', async (code, title, retry) => {
    const { renderer } = renderCard({ [ACCESS]: { status: 503, body: errorBody(code, 'The backend cannot serve.', 'The operator checks it.') } });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe(title);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('The backend cannot serve.');
    expect(renderer.findAll(Button).some((node) => node.text === 'Try again')).toBe(retry);
  });
});
