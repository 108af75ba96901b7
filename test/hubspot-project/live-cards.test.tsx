import { Button, ErrorState, LoadingSpinner, TableCell, TableRow, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContactCardView } from '../../hubspot-project/app/cards/ContactCardView.tsx';
import { TicketCardView } from '../../hubspot-project/app/cards/TicketCardView.tsx';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, TEST_APP, type Harness } from '../support/harness.js';
import { signingFetch } from '../support/hubspot-fetch.ts';
import { mirrorPolicy } from '../support/mirror-policy.js';

const account = loadSeed().accounts[0]!;
const user = (first: string) => account.users.find((candidate) => candidate.firstName === first)!;

const settled = (renderer: ReturnType<typeof createRenderer>) =>
  renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull(), { timeoutInMs: 10_000 });

/** The real cards against the real backend and the local HubSpot: proves the client and the API agree. */
describe('cards against the live backend', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.installDirect(account.portalId, user('Ana').id);
    await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: account.portalId, userId: user('Ana').id, body: mirrorPolicy(account) });
  });
  afterAll(async () => h.close());

  // hubspot.fetch as in production: HubSpot appends the viewer's identity under its own names.
  const clientFor = (userId: number) =>
    createBackendClient({
      fetch: signingFetch(TEST_APP.clientSecret, { portalId: account.portalId, userId, appId: TEST_APP.appId }),
      portalId: account.portalId,
      userId,
      baseUrl: h.backendUrl,
    });

  it("lets Dev assign an unassigned ticket to himself from the card, and the card and HubSpot's page then show it as his", async () => {
    const renderer = createRenderer('crm.record.tab');
    renderer.render(<TicketCardView client={clientFor(user('Dev').id)} ticketId="5004" actions={renderer.mocks.actions} />);
    await settled(renderer);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('Not assigned to anyone. You have Owned and unassigned access.');
    renderer.findByTestId(Button, 'assign-to-me').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'assign-to-me').text).toBe('Assigned to you'), { timeoutInMs: 10_000 });
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'success' });
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(1);
  });

  it("shows Farid only his team's tickets of a contact, and says why the rest are hidden", async () => {
    const renderer = createRenderer('crm.record.tab');
    renderer.render(<ContactCardView client={clientFor(user('Farid').id)} contactId="6001" actions={renderer.mocks.actions} />);
    await settled(renderer);
    const subjects = renderer
      .findAll(TableRow)
      .slice(1)
      .map((row) => row.findAll(TableCell)[0]?.text);
    expect(subjects).toEqual(['Invoice shows the wrong VAT rate', 'Export to CSV times out', 'Webhook retries']);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('3 more tickets are hidden from you: 3 owned by other teams.');
  });
});

/** Behind `hs project dev`'s proxy, which signs but appends nothing, only the card's own names say who is asking. */
describe("the ticket card through hs project dev's proxy", () => {
  let h: Harness;
  afterEach(async () => h.close());

  async function renderAsDev(env: Record<string, string>) {
    h = await startHarness({ env });
    await h.installDirect(account.portalId, user('Ana').id);
    await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: account.portalId, userId: user('Ana').id, body: mirrorPolicy(account) });
    const client = createBackendClient({
      fetch: signingFetch(TEST_APP.clientSecret),
      portalId: account.portalId,
      userId: user('Dev').id,
      baseUrl: h.backendUrl,
    });
    const renderer = createRenderer('crm.record.tab');
    renderer.render(<TicketCardView client={client} ticketId="5004" actions={renderer.mocks.actions} />);
    await settled(renderer);
    return renderer;
  }

  it('works when the backend allows card-supplied identity (ALLOW_CARD_IDENTITY=true)', async () => {
    const renderer = await renderAsDev({ ALLOW_CARD_IDENTITY: 'true' });
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('Not assigned to anyone. You have Owned and unassigned access.');
  });

  it('says HubSpot did not name the viewer, and how to fix it, when the backend does not', async () => {
    const renderer = await renderAsDev({});
    expect(renderer.find(ErrorState).props.title).toBe('HubSpot did not say who you are');
    const texts = renderer
      .find(ErrorState)
      .findAll(Text)
      .map((node) => node.text)
      .join(' ');
    expect(texts).toContain('HubSpot did not add portalId and userId to this request');
    expect(texts).toContain('ALLOW_CARD_IDENTITY=true');
  });
});
