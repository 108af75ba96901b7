import { Alert, Button, ErrorState, Input, Link, List, LoadingSpinner, Select, StatisticsItem, TableCell, TableRow, Tag, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { LEVEL_LABELS as BACKEND_LEVEL_LABELS } from '../../backend/src/access/catalogue.js';
import { SettingsPageView } from '../../hubspot-project/app/settings/SettingsPageView.tsx';
import { LEVEL_LABELS } from '../../hubspot-project/app/shared/levels.ts';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { errorBody, scriptedFetch, statisticsBody } from './fixtures.ts';

const status = {
  installation: {
    status: 'active',
    statusReason: null,
    installedAt: '2026-11-20T10:00:00.000Z',
    installedBy: { userId: 2001, name: 'Ana Silva' },
    tokenExpiresAt: '2026-11-23T10:30:00.000Z',
  },
  scopes: { requested: ['oauth', 'tickets'], granted: ['oauth', 'tickets'], missing: [] },
  accessSource: { configured: 'auto', live: 'answering', detail: null, checkedAt: '2026-11-22T09:30:00.000Z' },
  identitySource: { hubspot: 12, card: 0, since: '2026-11-22T09:15:00.000Z' },
  recentFailures: [],
  installUrl: 'https://viewer-guard.example.com/',
};
const directory = {
  users: [
    { id: 2001, name: 'Ana Silva', email: 'ana@example.com', superAdmin: true, teamIds: ['301'], roleIds: [] },
    { id: 2002, name: 'Bob Stone', email: 'bob@example.com', superAdmin: false, teamIds: ['302'], roleIds: ['901'] },
    { id: 2003, name: 'Carla Mendes', email: 'carla@example.com', superAdmin: false, teamIds: ['301', '302'], roleIds: ['902'] },
  ],
  teams: [
    { id: '301', name: 'Support EU' },
    { id: '302', name: 'Support US' },
  ],
  roles: [
    { id: '901', name: 'Support Agent' },
    { id: '902', name: 'Support Lead' },
  ],
};
const policy = { version: 3, document: { default: {}, roles: {}, teams: {}, users: {} }, changedBy: 2001, changedAt: '2026-11-21T10:00:00.000Z' };
const entry = (id: string, userId: number, action: string, outcome: string, decisionCode: string | null) => ({
  id,
  at: '2026-11-22T09:15:00.000Z',
  userId,
  action,
  objectType: 'tickets',
  recordId: '5001',
  decisionCode,
  source: 'hubspot',
  outcome,
  message: null,
});

const routes = {
  'GET /api/v1/admin/status': { status: 200, body: status },
  'GET /api/v1/admin/directory': { status: 200, body: directory },
  'GET /api/v1/admin/policy': { status: 200, body: policy },
  'GET /api/v1/admin/statistics': {
    status: 200,
    body: statisticsBody({ '2026-11-22': { views: 9, calls: 21 } }, { viewsAllowed: 0, refusals: 0, writes: 0, hubspotCalls: 0, hubspotRateLimited: 0 }),
  },
  'GET /api/v1/admin/calibration': { status: 200, body: { schedule: { intervalHours: 24, budgetShare: 0.2 }, latest: null, result: null, policyVersion: 3 } },
};

function renderPage(extra: Parameters<typeof scriptedFetch>[0] = {}) {
  let auditPage = 0;
  const { fetch, calls } = scriptedFetch({
    ...routes,
    'GET /api/v1/admin/audit': () => {
      auditPage += 1;
      return auditPage === 1
        ? { status: 200, body: { entries: [entry('b', 2002, 'assign-to-me', 'refused', 'OWNED_ONLY_NOT_OWNER')], nextCursor: 'b' } }
        : { status: 200, body: { entries: [entry('a', 2003, 'add-note', 'done', 'ALLOWED_TEAM')], nextCursor: null } };
    },
    ...extra,
  });
  const renderer = createRenderer('settings');
  renderer.render(<SettingsPageView client={createBackendClient({ fetch, portalId: 10000001, userId: 2001 })} actions={renderer.mocks.actions} />);
  return { renderer, calls };
}
const ready = async (renderer: ReturnType<typeof createRenderer>) => renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());

describe('settings page', () => {
  it("opens the status with the account's figures for the last 30 days", async () => {
    const { renderer } = renderPage();
    await ready(renderer);
    expect(renderer.find(StatisticsItem, { label: 'Record views allowed' }).props.number).toBe(9);
    expect(renderer.find(StatisticsItem, { label: 'HubSpot calls' }).props.number).toBe(21);
  });

  it('lists recent changes whose outcome is unknown with those that failed, each with what to check', async () => {
    const failure = (at: string, outcome: 'failed' | 'unknown', meaning: string, message: string) => ({
      at,
      action: 'add-note',
      objectType: 'tickets',
      recordId: '5002',
      outcome,
      meaning,
      message,
    });
    const { renderer } = renderPage({
      'GET /api/v1/admin/status': {
        status: 200,
        body: {
          ...status,
          recentFailures: [
            failure(
              '2026-11-22T09:20:00.000Z',
              'unknown',
              'The outcome is unknown: check the record in HubSpot.',
              'HUBSPOT_UNAVAILABLE: HubSpot did not answer.',
            ),
            failure('2026-11-22T09:10:00.000Z', 'failed', 'HubSpot did not make this change.', 'HUBSPOT_REFUSED: HubSpot refused the note.'),
          ],
        },
      },
    });
    await ready(renderer);
    const alert = renderer.find(Alert, { title: 'Recent changes that failed or may not have been made' });
    expect(alert.props.variant).toBe('danger');
    expect(alert.findAll(Text).map((node) => node.text)).toEqual([
      '2026-11-22 09:20 UTC, add-note on ticket 5002: The outcome is unknown: check the record in HubSpot.',
      'HUBSPOT_UNAVAILABLE: HubSpot did not answer.',
      '2026-11-22 09:10 UTC, add-note on ticket 5002: HubSpot did not make this change.',
      'HUBSPOT_REFUSED: HubSpot refused the note.',
    ]);
  });

  it('shows no failures alert when nothing failed', async () => {
    const { renderer } = renderPage();
    await ready(renderer);
    expect(renderer.findAll(Alert).map((alert) => alert.props.title)).not.toContain('Recent changes that failed');
    expect(renderer.findAll(Alert).map((alert) => alert.props.title)).not.toContain('Recent changes that failed or may not have been made');
  });

  it('shows who installed and when, and that every permission is granted', async () => {
    const { renderer } = renderPage();
    await ready(renderer);
    const texts = renderer.findAll(Text).map((node) => node.text);
    expect(texts).toEqual(expect.arrayContaining(['Ana Silva', '2026-11-20', 'All requested permissions are granted.']));
  });

  it('says HubSpot named the viewer on the latest requests, so the assumption holds', async () => {
    const { renderer } = renderPage();
    await ready(renderer);
    const texts = renderer.findAll(Text).map((node) => node.text);
    expect(texts).toContain("HubSpot sent the viewer's identity on 12 of the last 12 requests: the assumption holds.");
    expect(texts).toContain('Counted by this Viewer Guard server since 2026-11-22 09:15 UTC.');
  });

  it('says how many requests the card named its own viewer on, and that this is for local development only', async () => {
    const { renderer } = renderPage({
      'GET /api/v1/admin/status': { status: 200, body: { ...status, identitySource: { hubspot: 1, card: 2, since: '2026-11-22T09:15:00.000Z' } } },
    });
    await ready(renderer);
    expect(renderer.findAll(Text).map((node) => node.text)).toContain(
      "HubSpot sent the viewer's identity on 1 of the last 3 requests; on the other 2 the card named the viewer itself, which Viewer Guard accepts only in local development (ALLOW_CARD_IDENTITY).",
    );
  });

  it("shows the live state of HubSpot's permissions API, labelled BETA", async () => {
    const { renderer } = renderPage();
    await ready(renderer);
    expect(renderer.find(Tag).text).toBe('BETA');
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('Answering: HubSpot says who may see and change each record. Checked at 09:30 UTC.');
  });

  it("says HubSpot's permissions API is not granted, with the fix and what happens meanwhile", async () => {
    const { renderer } = renderPage({
      'GET /api/v1/admin/status': {
        status: 200,
        body: { ...status, accessSource: { ...status.accessSource, live: 'not granted', detail: 'HubSpot refused.' } },
      },
    });
    await ready(renderer);
    const alert = renderer.find(Alert, { title: "HubSpot's permissions API is not granted" });
    expect(alert.text).toContain('a Super Admin reinstalls Viewer Guard from');
    expect(alert.text).toContain('and approves every permission HubSpot asks for, optional ones included.');
    expect(alert.text).toContain('Until it answers, Viewer Guard decides with the access levels below.');
    expect(alert.find(Link)).toMatchObject({ text: 'the install page', props: { href: 'https://viewer-guard.example.com/' } });
    expect(renderer.find(Tag).text).toBe('BETA');
  });

  it("says when HubSpot's permissions API is unavailable or answers in an unknown shape, and that such answers never allow", async () => {
    const live = (state: string, detail: string, configured = 'hubspot') => ({
      status: 200,
      body: { ...status, accessSource: { configured, live: state, detail, checkedAt: status.accessSource.checkedAt } },
    });
    const unavailable = renderPage({ 'GET /api/v1/admin/status': live('unavailable', 'There is no ticket in this account to ask HubSpot about.') }).renderer;
    await ready(unavailable);
    expect(unavailable.find(Alert, { title: "HubSpot's permissions API is unavailable" }).text).toContain(
      'There is no ticket in this account to ask HubSpot about. Until it answers, Viewer Guard refuses every record it cannot confirm with HubSpot.',
    );
    const unexpected = renderPage({
      'GET /api/v1/admin/status': live('unexpected answer', "HubSpot's answer about ticket 5001 is not in the documented shape."),
    }).renderer;
    await ready(unexpected);
    expect(unexpected.find(Alert, { title: "HubSpot's permissions API answered in a shape Viewer Guard does not know" }).text).toContain('never as allowed');
  });

  it('tells the admin to reinstall, with the link, when the install broke', async () => {
    const broken = { ...status, installation: { ...status.installation, status: 'needs_reinstall', statusReason: 'HubSpot refused the refresh token.' } };
    const { renderer } = renderPage({ 'GET /api/v1/admin/status': { status: 200, body: broken } });
    await ready(renderer);
    expect(renderer.find(Alert, { title: 'Viewer Guard needs to be reconnected' }).text).toContain('HubSpot refused the refresh token.');
    expect(renderer.find(Link).props.href).toBe('https://viewer-guard.example.com/');
  });

  it("edits a team's level with a preview of who it affects, and saves the whole policy", async () => {
    const { renderer, calls } = renderPage({ 'PUT /api/v1/admin/policy': { status: 200, body: { ...policy, version: 4 } } });
    await ready(renderer);
    renderer.find(Select, { name: 'scope' }).trigger('onChange', 'teams' as never);
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'entity' })).not.toBeNull());
    renderer.find(Select, { name: 'entity' }).trigger('onChange', '302' as never);
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'level-view' })).not.toBeNull());
    expect(renderer.findAll(Text).map((node) => node.text)).toContain(
      'Affects: Bob Stone, Carla Mendes. Super Admins always have All access; more specific rules win.',
    );
    renderer.find(Select, { name: 'level-view' }).trigger('onChange', 'team' as never);
    renderer.findByTestId(Button, 'save-policy').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(1));
    expect(calls.find((call) => call.method === 'PUT')?.body).toEqual({ default: {}, roles: {}, teams: { '302': { tickets: { view: 'team' } } }, users: {} });
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'success', message: 'Access levels saved (version 4).' });
  });

  it("edits deal and company levels too, each with its own permission set's actions", async () => {
    const { renderer, calls } = renderPage({ 'PUT /api/v1/admin/policy': { status: 200, body: { ...policy, version: 4 } } });
    await ready(renderer);
    expect(renderer.find(Select, { name: 'objectType' }).props.options.map((option) => option.value)).toEqual(['tickets', 'contacts', 'deals', 'companies']);
    renderer.find(Select, { name: 'objectType' }).trigger('onChange', 'deals' as never);
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'level-delete' })).not.toBeNull());
    expect(renderer.maybeFind(Select, { name: 'level-communicate' })).toBeNull();
    renderer.find(Select, { name: 'level-view' }).trigger('onChange', 'owned' as never);
    renderer.find(Select, { name: 'objectType' }).trigger('onChange', 'companies' as never);
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'level-communicate' })).not.toBeNull());
    renderer.find(Select, { name: 'level-communicate' }).trigger('onChange', 'none' as never);
    renderer.findByTestId(Button, 'save-policy').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(1));
    expect(calls.find((call) => call.method === 'PUT')?.body).toEqual({
      default: { deals: { view: 'owned' }, companies: { communicate: 'none' } },
      roles: {},
      teams: {},
      users: {},
    });
  });

  it('lists each rule a refused save breaks above the editor, until a save goes through', async () => {
    const problems = [
      {
        field: 'body.users.2002.tickets.edit',
        message: "user 2002: tickets Edit 'Team' would reach tickets that View 'Owned only' hides; set Edit to 'Owned only' or narrower, or widen View",
      },
      {
        field: 'body.users.2002.tickets.delete',
        message: "user 2002: tickets Delete 'All' would reach tickets that View 'Owned only' hides; set Delete to 'Owned only' or narrower, or widen View",
      },
    ];
    let saves = 0;
    const { renderer } = renderPage({
      'PUT /api/v1/admin/policy': () => {
        saves += 1;
        return saves === 1
          ? { status: 400, body: { error: { ...errorBody('VALIDATION_FAILED', 'Some of the request is not valid.').error, details: problems } } }
          : { status: 200, body: { ...policy, version: 4 } };
      },
    });
    await ready(renderer);
    const title = 'The levels were not saved. Fix these rules:';
    expect(renderer.maybeFind(Alert, { title })).toBeNull();
    renderer.findByTestId(Button, 'save-policy').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.maybeFind(Alert, { title })).not.toBeNull());
    expect(
      renderer
        .find(Alert, { title })
        .find(List)
        .findAll(Text)
        .map((node) => node.text),
    ).toEqual(problems.map((problem) => problem.message));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'danger', title: 'The levels were not saved' });
    renderer.findByTestId(Button, 'save-policy').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(2));
    expect(renderer.maybeFind(Alert, { title })).toBeNull();
  });

  it('clears a rule so the less specific one applies again', async () => {
    const existing = {
      ...policy,
      document: { default: { tickets: { view: 'owned' } }, roles: {}, teams: {}, users: { '2002': { tickets: { view: 'none' } } } },
    };
    const { renderer, calls } = renderPage({
      'GET /api/v1/admin/policy': { status: 200, body: existing },
      'PUT /api/v1/admin/policy': { status: 200, body: { ...policy, version: 4 } },
    });
    await ready(renderer);
    renderer.find(Select, { name: 'scope' }).trigger('onChange', 'users' as never);
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'entity' })).not.toBeNull());
    renderer.find(Select, { name: 'entity' }).trigger('onChange', '2002' as never);
    await renderer.waitFor(() => expect(renderer.find(Select, { name: 'level-view' }).props.value).toBe('none'));
    renderer.findByTestId(Button, 'clear-rule').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.findAll(Button).filter((button) => button.props.testId === 'clear-rule')).toEqual([]));
    renderer.findByTestId(Button, 'save-policy').trigger('onClick');
    await renderer.waitFor(() =>
      expect(calls.find((call) => call.method === 'PUT')?.body).toEqual({ default: { tickets: { view: 'owned' } }, roles: {}, teams: {}, users: {} }),
    );
  });

  it('explains why a user cannot open a record', async () => {
    const explanation = {
      decision: {
        allowed: false,
        code: 'OWNED_ONLY_NOT_OWNER',
        message: 'You can only open tickets you own. This one is owned by Ana Silva.',
        fix: 'Ask a Super Admin to give you Team access to tickets, or ask Ana to reassign it.',
        source: 'hubspot',
        action: 'view',
        level: 'owned',
        levelLabel: null,
        facts: { rule: 'user 2002' },
      },
      trace: { policyRule: { level: 'owned', rule: 'user 2002', configured: true }, accessSource: 'auto' },
    };
    const { renderer, calls } = renderPage({ 'POST /api/v1/admin/explain': { status: 200, body: explanation } });
    await ready(renderer);
    expect(renderer.findByTestId(Button, 'explain').props.disabled).toBe(true);
    renderer.find(Select, { name: 'explain-user' }).trigger('onChange', 2002 as never);
    renderer.find(Input, { name: 'explain-record' }).trigger('onChange', '5001' as never);
    await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'explain').props.disabled).toBe(false));
    renderer.findByTestId(Button, 'explain').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.maybeFind(Alert, { title: 'Refused (OWNED_ONLY_NOT_OWNER)' })).not.toBeNull());
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ userId: 2002, objectType: 'tickets', recordId: '5001', action: 'view' });
    expect(renderer.find(Alert, { title: 'Refused (OWNED_ONLY_NOT_OWNER)' }).text).toContain('matching level rule: user 2002 (owned)');
  });

  it('pages through the audit log, newest first, with names', async () => {
    const { renderer, calls } = renderPage();
    await renderer.waitFor(() => expect(renderer.findAll(TableRow).length).toBe(2));
    const cells = () =>
      renderer
        .findAll(TableRow)
        .slice(1)
        .map((row) => row.findAll(TableCell).map((cell) => cell.text));
    expect(cells()).toEqual([['2026-11-22 09:15', 'Bob Stone', 'assign-to-me ticket 5001', 'refused (OWNED_ONLY_NOT_OWNER)']]);
    renderer.findByTestId(Button, 'older').trigger('onClick');
    await renderer.waitFor(() => expect(cells()).toHaveLength(2));
    expect(cells()[1]).toEqual(['2026-11-22 09:15', 'Carla Mendes', 'add-note ticket 5001', 'done (ALLOWED_TEAM)']);
    expect(calls.filter((call) => call.url.includes('/admin/audit')).map((call) => new URL(call.url).searchParams.get('before'))).toEqual([null, 'b']);
    expect(renderer.findAll(Button).filter((button) => button.props.testId === 'older')).toEqual([]);
  });

  it('refuses non-admins with the reason and no pointless retry', async () => {
    const { renderer } = renderPage({
      'GET /api/v1/admin/status': {
        status: 403,
        body: errorBody('NOT_AN_ADMIN', "Only Super Admins can open Viewer Guard's settings.", 'Ask a Super Admin of this HubSpot account.'),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(
      renderer
        .find(ErrorState)
        .findAll(Text)
        .map((node) => node.text),
    ).toEqual(["Only Super Admins can open Viewer Guard's settings.", 'Ask a Super Admin of this HubSpot account.']);
    expect(renderer.maybeFind(Button)).toBeNull();
  });
});

describe('level words', () => {
  it("are the backend's, level for level, so the page and the explanations name a level alike", () => {
    expect(LEVEL_LABELS).toEqual(BACKEND_LEVEL_LABELS);
    expect(Object.keys(LEVEL_LABELS)).toEqual(Object.keys(BACKEND_LEVEL_LABELS));
  });
});
