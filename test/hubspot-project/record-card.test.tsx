import { Alert, Button, DescriptionListItem, ErrorState, LoadingSpinner, Text, TextArea } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { RecordCardView } from '../../hubspot-project/app/cards/RecordCardView.tsx';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import type { RecordCardType } from '../../hubspot-project/app/shared/types.ts';
import { errorBody, scriptedFetch, verdict } from './fixtures.ts';

/** The deal card and the company card are one view over two object types: every state, for each. */
const CARDS = [
  {
    objectType: 'deals',
    noun: 'deal',
    id: '8002',
    title: 'Porto Logistics: onboarding package',
    details: { amount: '4500', stage: 'appointmentscheduled' },
    shown: [
      ['Amount', '4500'],
      ['Stage', 'appointmentscheduled'],
    ],
    extraActions: {},
  },
  {
    objectType: 'companies',
    noun: 'company',
    id: '9002',
    title: 'Porto Logistics',
    details: { domain: 'portologistics.example' },
    shown: [['Domain', 'portologistics.example']],
    extraActions: { communicate: verdict(true, 'ALLOWED_TEAM', 'This company is owned by Carla Mendes, who is on your team (Support EU).') },
  },
] as const satisfies ReadonlyArray<{ objectType: RecordCardType } & Record<string, unknown>>;

describe.each(CARDS)('the $noun card', ({ objectType, noun, id, title, details, shown, extraActions }) => {
  const ACCESS = `GET /api/v1/records/${objectType}/${id}/access`;
  const ASSIGN = `POST /api/v1/records/${objectType}/${id}/assign-to-me`;
  const NOTE = `POST /api/v1/records/${objectType}/${id}/notes`;
  const teamRecord = {
    record: { objectType, id, title, owner: { ownerId: 7103, name: 'Carla Mendes', teams: [{ id: '301', name: 'Support EU' }] }, details },
    viewer: { userId: 2006, ownerId: 7106, superAdmin: false },
    verdicts: {
      view: verdict(true, 'ALLOWED_TEAM', `This ${noun} is owned by Carla Mendes, who is on your team (Support EU).`, { levelLabel: 'Team' }),
      edit: verdict(true, 'ALLOWED_TEAM', `This ${noun} is owned by Carla Mendes, who is on your team (Support EU).`, { levelLabel: 'Team' }),
      delete: verdict(false, 'NO_PERMISSION', `You don't have the Delete permission for ${objectType} in HubSpot.`, {
        fix: `Ask a Super Admin to give you Delete access to ${objectType}.`,
      }),
      ...extraActions,
    },
  };
  const editRefused = {
    ...teamRecord,
    verdicts: {
      ...teamRecord.verdicts,
      edit: verdict(false, 'OWNED_ONLY_NOT_OWNER', `You can only edit ${objectType} you own. This one is owned by Carla Mendes.`, {
        fix: `Ask a Super Admin to give you Team access to ${objectType}, or ask Carla to reassign it.`,
      }),
    },
  };

  function renderCard(routes: Parameters<typeof scriptedFetch>[0]) {
    const { fetch, calls } = scriptedFetch(routes);
    const renderer = createRenderer('crm.record.tab');
    const client = createBackendClient({ fetch, portalId: 10000001, userId: 2006 });
    renderer.render(<RecordCardView client={client} objectType={objectType} recordId={id} actions={renderer.mocks.actions} />);
    return { renderer, calls };
  }
  type Rendered = ReturnType<typeof renderCard>['renderer'];
  const ready = (renderer: Rendered) => renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());
  const texts = (renderer: Rendered) => renderer.findAll(Text).map((node) => node.text);
  const typeNote = async (renderer: Rendered) => {
    renderer.find(TextArea).trigger('onChange', 'Called them' as never);
    await renderer.waitFor(() => expect(renderer.findByTestId(Button, 'add-note').props.disabled).toBe(false));
  };

  it('shows a spinner while it asks the backend about this record', async () => {
    const { renderer, calls } = renderCard({ [ACCESS]: { status: 200, body: teamRecord } });
    expect(renderer.find(LoadingSpinner).props.label).toBe(`Checking what you can do on this ${noun}…`);
    await ready(renderer);
    expect(calls[0]?.url).toBe(`https://viewer-guard.example.com/api/v1/records/${objectType}/${id}/access?vgPortalId=10000001&vgUserId=2006`);
  });

  it('shows the record, its owner, its details and a verdict per action, with the reason and fix of each refusal', async () => {
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: teamRecord } });
    await ready(renderer);
    expect(texts(renderer)).toEqual(expect.arrayContaining([title, 'Owned by Carla Mendes, Support EU. You have Team access.']));
    expect(renderer.findAll(DescriptionListItem).map((item) => [item.props.label, item.find(Text).text])).toEqual(shown);
    expect(renderer.findByTestId(Text, 'verdict-view').text).toBe('Open: allowed');
    expect(renderer.findByTestId(Text, 'verdict-edit').text).toBe('Edit: allowed');
    expect(renderer.findByTestId(Text, 'verdict-delete').text).toBe('Delete: not allowed');
    expect(texts(renderer)).toContain(
      `You don't have the Delete permission for ${objectType} in HubSpot. Ask a Super Admin to give you Delete access to ${objectType}.`,
    );
    expect(renderer.maybeFindByTestId(Text, 'verdict-communicate') !== null).toBe(objectType === 'companies');
    expect(renderer.findByTestId(Button, 'assign-to-me').props.disabled).toBe(false);
    // Nothing typed yet: no empty note can be sent.
    expect(renderer.findByTestId(Button, 'add-note').props.disabled).toBe(true);
  });

  it('says so when the viewer owns the record already, and offers no assignment', async () => {
    const owned = { ...teamRecord, record: { ...teamRecord.record, owner: { ownerId: 7106, name: 'Farid Haddad', teams: [] } } };
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: owned } });
    await ready(renderer);
    expect(renderer.findByTestId(Button, 'assign-to-me').text).toBe('Assigned to you');
    expect(renderer.findByTestId(Button, 'assign-to-me').props.disabled).toBe(true);
  });

  it('disables both actions when edit is refused, with the reason and the fix', async () => {
    const { renderer } = renderCard({ [ACCESS]: { status: 200, body: editRefused } });
    await ready(renderer);
    expect(renderer.findByTestId(Button, 'assign-to-me').props.disabled).toBe(true);
    expect(renderer.findByTestId(Button, 'add-note').props.disabled).toBe(true);
    expect(renderer.find(TextArea).props.readOnly).toBe(true);
    expect(renderer.findByTestId(Text, 'verdict-edit').text).toBe('Edit: not allowed');
    expect(texts(renderer)).toContain(
      `You can only edit ${objectType} you own. This one is owned by Carla Mendes. Ask a Super Admin to give you Team access to ${objectType}, or ask Carla to reassign it.`,
    );
  });

  it('explains a record the viewer may not open (403) instead of showing it', async () => {
    const { renderer } = renderCard({
      [ACCESS]: {
        status: 403,
        body: errorBody('OWNED_ONLY_NOT_OWNER', `You can only open ${objectType} you own. This one is owned by Ana Silva.`, 'Ask Ana to reassign it.'),
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(Alert)).not.toBeNull());
    expect(renderer.find(Alert).props.title).toBe(`You can't work on this ${noun} through Viewer Guard`);
    expect(renderer.find(Alert).text).toContain('This one is owned by Ana Silva. Ask Ana to reassign it.');
    expect(renderer.maybeFind(Button)).toBeNull();
    expect(texts(renderer)).not.toContain(title);
  });

  it('shows an error with a retry when HubSpot does not answer, and recovers', async () => {
    let first = true;
    const { renderer } = renderCard({
      [ACCESS]: () => {
        if (!first) return { status: 200, body: teamRecord };
        first = false;
        return { status: 502, body: errorBody('HUBSPOT_UNAVAILABLE', 'HubSpot did not answer.', 'Try again in a minute.') };
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    expect(renderer.find(ErrorState).props.title).toBe('HubSpot did not answer');
    renderer.find(ErrorState).find(Button).trigger('onClick');
    await renderer.waitFor(() => expect(texts(renderer)).toContain(title));
  });

  it.each([
    ['assign to me', ASSIGN, undefined, `The ${noun} is now assigned to you.`],
    ['add a note', NOTE, { body: 'Called them' }, `Your note was added to the ${noun}.`],
  ])('%s: sends the request, then a success alert, a refresh of the record page and a reload', async (_name, route, body, message) => {
    let accessCalls = 0;
    const { renderer, calls } = renderCard({
      [ACCESS]: () => {
        accessCalls += 1;
        return { status: 200, body: teamRecord };
      },
      [route]: { status: 200, body: { result: { id: '1' } } },
    });
    await ready(renderer);
    if (route === NOTE) await typeNote(renderer);
    renderer.findByTestId(Button, route === NOTE ? 'add-note' : 'assign-to-me').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls).toHaveLength(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toEqual({ type: 'success', message });
    const post = calls.filter((call) => call.method === 'POST');
    expect(post).toHaveLength(1);
    expect(post[0]?.url).toBe(`https://viewer-guard.example.com${route.slice('POST '.length)}?vgPortalId=10000001&vgUserId=2006`);
    expect(post[0]?.body).toEqual(body);
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(1);
    await renderer.waitFor(() => expect(accessCalls).toBe(2));
  });

  it.each([
    ['assign to me', ASSIGN],
    ['add a note', NOTE],
  ])('%s: a refused write becomes a danger alert in the backend words, and nothing is refreshed', async (_name, route) => {
    const { renderer } = renderCard({
      [ACCESS]: { status: 200, body: teamRecord },
      [route]: {
        status: 403,
        body: errorBody('TEAM_ONLY_OTHER_TEAM', `You can only edit ${objectType} owned by you or your team.`, 'Ask a Super Admin for All access.'),
      },
    });
    await ready(renderer);
    if (route === NOTE) await typeNote(renderer);
    renderer.findByTestId(Button, route === NOTE ? 'add-note' : 'assign-to-me').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls).toHaveLength(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toEqual({
      type: 'danger',
      title: 'Viewer Guard could not do this',
      message: `You can only edit ${objectType} owned by you or your team. Ask a Super Admin for All access.`,
    });
    expect(renderer.mocks.actions.refreshObjectProperties.calls).toHaveLength(0);
    // The typed note survives a failure, so it can be sent again.
    if (route === NOTE) expect(renderer.find(TextArea).props.value).toBe('Called them');
  });
});
