import { Alert, Button, ProgressBar, Select, TableCell, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { CalibrationSection } from '../../hubspot-project/app/settings/CalibrationSection.tsx';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import type { CalibrationRun, CalibrationView } from '../../hubspot-project/app/shared/types.ts';
import { errorBody, scriptedFetch } from './fixtures.ts';

const run = (state: CalibrationRun['state'], done: number, total: number): CalibrationRun => ({
  id: 'run-1',
  state,
  trigger: 'manual',
  startedBy: 2001,
  startedAt: '2026-11-30T18:00:00.000Z',
  finishedAt: state === 'running' ? null : '2026-11-30T18:01:00.000Z',
  progress: { done, total },
  calls: done,
  error: null,
});
const evidence = (recordId: string, allowed: boolean, sentence: string) => ({ recordId, relation: 'team' as const, allowed, sentence });
const result: NonNullable<CalibrationView['result']> = {
  runId: 'run-1',
  finishedAt: '2026-11-30T18:01:00.000Z',
  users: [
    { userId: 2001, name: 'Ana Silva', roleIds: [], teamIds: ['301'], skipped: 'super-admin', cells: {} },
    {
      userId: 2003,
      name: 'Carla Mendes',
      roleIds: ['902'],
      teamIds: ['301', '302'],
      skipped: null,
      cells: {
        tickets: {
          view: {
            status: 'inferred',
            level: 'team',
            evidence: [evidence('5002', true, "Carla can view ticket 5002, owned by Bob Stone on Support US, Carla's team")],
            conclusion: 'so Team',
          },
          delete: {
            status: 'not-enough-evidence',
            candidates: ['team', 'everything'],
            missing: ['other'],
            evidence: [],
            reason: "Not enough evidence: no tickets are owned by someone outside Carla's teams, so Team and All cannot be told apart",
          },
        },
      },
    },
  ],
  unreadable: [{ objectType: 'deals', reason: 'HubSpot refused to search deals by owner: this account did not grant Viewer Guard crm.objects.deals.read.' }],
  roles: [{ roleId: '902', name: 'Support Lead', userIds: [2003], levels: { tickets: { view: 'team' } } }],
  drift: [
    {
      userId: 2003,
      objectType: 'tickets',
      action: 'view',
      hubspot: 'team',
      policy: 'owned',
      rule: 'user 2003',
      sentence: 'Carla Mendes: HubSpot says Team, the policy says Owned only (tickets View)',
    },
  ],
};
const view = (latest: CalibrationRun | null, withResult = true): CalibrationView => ({
  schedule: { intervalHours: 24, budgetShare: 0.2 },
  latest,
  result: withResult ? result : null,
  policyVersion: 3,
});

function render(routes: Parameters<typeof scriptedFetch>[0]) {
  const { fetch, calls } = scriptedFetch(routes);
  const renderer = createRenderer('settings');
  renderer.render(<CalibrationSection client={createBackendClient({ fetch, portalId: 10000001, userId: 2001 })} actions={renderer.mocks.actions} />);
  return { renderer, calls };
}
const texts = (renderer: ReturnType<typeof createRenderer>) => renderer.findAll(Text).map((node) => node.text);
const cells = (renderer: ReturnType<typeof createRenderer>) => renderer.findAll(TableCell).map((node) => node.text);

describe('calibration section', () => {
  it('shows a progress bar while a run is going, and no second start', async () => {
    const { renderer } = render({ 'GET /api/v1/admin/calibration': { status: 200, body: view(run('running', 7, 20), false) } });
    await renderer.waitFor(() => expect(renderer.maybeFind(ProgressBar)).not.toBeNull());
    expect(renderer.find(ProgressBar).props).toMatchObject({ value: 7, maxValue: 20, valueDescription: '7 of 20 HubSpot calls' });
    expect(renderer.findByTestId(Button, 'run-calibration').props.disabled).toBe(true);
    expect(texts(renderer)).toContain('No calibration has finished yet.');
  });

  it('shows the inferred table with "not enough evidence", the role that agrees, the drift in words, and Super Admins left out', async () => {
    const { renderer } = render({ 'GET /api/v1/admin/calibration': { status: 200, body: view(run('done', 20, 20)) } });
    await renderer.waitFor(() => expect(renderer.maybeFind(TableCell)).not.toBeNull());
    expect(renderer.maybeFind(ProgressBar)).toBeNull();
    expect(cells(renderer)).toEqual(expect.arrayContaining(['Role: Support Lead', 'Carla Mendes', 'Team', 'Not enough evidence', 'Users differ']));
    expect(cells(renderer)).toContain('Carla Mendes: HubSpot says Team, the policy says Owned only (tickets View)');
    expect(texts(renderer)).toContain('Super Admins (Ana Silva) have every permission in HubSpot and are not calibrated.');
    expect(texts(renderer)).toContain(
      'Deals not calibrated: HubSpot refused to search deals by owner: this account did not grant Viewer Guard crm.objects.deals.read.',
    );
  });

  it('shows the evidence behind a chosen cell, and why another stays unset', async () => {
    const { renderer } = render({ 'GET /api/v1/admin/calibration': { status: 200, body: view(run('done', 20, 20)) } });
    await renderer.waitFor(() => expect(renderer.maybeFind(Select, { name: 'evidence-cell' })).not.toBeNull());
    renderer.find(Select, { name: 'evidence-cell' }).trigger('onChange', '2003:tickets:view' as never);
    await renderer.waitFor(() => expect(texts(renderer)).toContain('so Team'));
    expect(texts(renderer)).toContain("Carla can view ticket 5002, owned by Bob Stone on Support US, Carla's team");
    renderer.find(Select, { name: 'evidence-cell' }).trigger('onChange', '2003:tickets:delete' as never);
    await renderer.waitFor(() =>
      expect(texts(renderer).some((text) => text?.startsWith('Not enough evidence: no tickets are owned by someone outside') === true)).toBe(true),
    );
  });

  it("adopts HubSpot's levels with one click, says which version was saved, and shows the drift gone", async () => {
    let adopted = false;
    const { renderer, calls } = render({
      'GET /api/v1/admin/calibration': () => ({
        status: 200,
        body: adopted ? { ...view(run('done', 20, 20)), result: { ...result, drift: [] } } : view(run('done', 20, 20)),
      }),
      'POST /api/v1/admin/calibration/adopt': () => {
        adopted = true;
        return { status: 200, body: { version: 4, changedBy: 2001, changedAt: '2026-11-30T18:05:00.000Z', unresolved: [], drift: [] } };
      },
    });
    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Button, 'adopt-calibration')).not.toBeNull());
    renderer.findByTestId(Button, 'adopt-calibration').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'success', message: "HubSpot's levels saved as policy version 4." });
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ runId: 'run-1' });
    await renderer.waitFor(() => expect(texts(renderer)).toContain("The saved policy agrees with every level HubSpot's answers show."));
  });

  it('starts a run on demand and says so when one is already running', async () => {
    const { renderer } = render({
      'GET /api/v1/admin/calibration': { status: 200, body: view(run('done', 20, 20)) },
      'POST /api/v1/admin/calibration': { status: 409, body: errorBody('CALIBRATION_RUNNING', 'A calibration of this account is already running.') },
    });
    await renderer.waitFor(() => expect(renderer.maybeFindByTestId(Button, 'run-calibration')).not.toBeNull());
    renderer.findByTestId(Button, 'run-calibration').trigger('onClick');
    await renderer.waitFor(() => expect(renderer.mocks.actions.addAlert.calls.length).toBe(1));
    expect(renderer.mocks.actions.addAlert.calls[0]?.[0]).toMatchObject({ type: 'danger', message: 'A calibration of this account is already running.' });
  });

  it('says when the last run failed', async () => {
    const { renderer } = render({
      'GET /api/v1/admin/calibration': { status: 200, body: view({ ...run('failed', 3, 20), error: 'HubSpot refused to list owners.' }, false) },
    });
    await renderer.waitFor(() => expect(renderer.maybeFind(Alert)).not.toBeNull());
    expect(renderer.find(Alert).props.title).toBe('The last calibration failed');
    expect(renderer.find(Alert).text).toBe('HubSpot refused to list owners.');
  });
});
