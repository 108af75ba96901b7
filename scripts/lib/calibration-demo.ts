import { setTimeout as sleep } from 'node:timers/promises';
import type { CalibrationAdopted, CalibrationCell, CalibrationRun, CalibrationView } from '../../hubspot-project/app/shared/types.ts';
import { formatTable } from './table.js';

/** How the demo reaches the admin API: signed by "HubSpot" as the Super Admin; throws on an error answer. */
export type AdminCall = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

const LABELS: Record<string, string> = {
  everything: 'All',
  'team+unassigned': 'Team+unassigned',
  team: 'Team',
  'owned+unassigned': 'Owned+unassigned',
  owned: 'Owned',
  none: 'None',
};
const short = (cell: CalibrationCell | undefined) =>
  cell === undefined ? '' : cell.status === 'inferred' ? (LABELS[cell.level] ?? cell.level) : cell.status === 'contradictory' ? '(disagree)' : '(no evidence)';

/**
 * The demo's calibration: started as the settings page's button does, its progress polled as the page's ProgressBar
 * does, then the inferred table, the one drift the demo's saved policy carries, the evidence for that cell and for one
 * left unset, and adopting HubSpot's levels.
 */
export async function demoCalibration(call: AdminCall, say: (line?: string) => void): Promise<void> {
  say("Calibration: inferring each user's HubSpot level from the permissions API (POST /api/v1/admin/calibration):");
  const started = await call<CalibrationRun>('POST', '/api/v1/admin/calibration');
  let view = await call<CalibrationView>('GET', '/api/v1/admin/calibration');
  say(`  run ${started.id}, using at most ${Math.round(view.schedule.budgetShare * 100)}% of each HubSpot rate window`);
  while (view.latest?.state === 'running') {
    say(`  progress: ${view.latest.progress.done} of ${view.latest.progress.total} HubSpot calls`);
    await sleep(3_000);
    view = await call<CalibrationView>('GET', '/api/v1/admin/calibration');
  }
  const { latest, result } = view;
  if (result === null || latest === null) throw new Error(`calibration did not finish: ${latest?.state ?? 'no run'} ${latest?.error ?? ''}`);
  say(`  ${latest.state} after ${latest.calls} HubSpot calls`);
  say();
  const calibrated = result.users.filter((user) => user.skipped === null);
  const columns = Object.entries(calibrated[0]?.cells ?? {}).flatMap(([objectType, actions]) =>
    Object.keys(actions ?? {}).map((action) => ({ objectType, action })),
  );
  say(
    formatTable(
      ['user', ...columns.map(({ objectType, action }) => `${objectType.slice(0, 4)} ${action.slice(0, 4)}`)],
      calibrated.map((user) => [user.name, ...columns.map(({ objectType, action }) => short(user.cells[objectType]?.[action]))]),
    ),
  );
  say(
    `  Not calibrated: ${result.users
      .filter((user) => user.skipped === 'super-admin')
      .map((user) => user.name)
      .join(', ')} (Super Admins have every permission).`,
  );
  for (const { objectType, reason } of result.unreadable) say(`  ${objectType} not calibrated: ${reason}`);
  say();
  say('Drift between the saved policy and HubSpot:');
  for (const drift of result.drift) say(`  ${drift.sentence} [${drift.rule}]`);
  const first = result.drift[0];
  const drifted = first === undefined ? undefined : result.users.find((user) => user.userId === first.userId)?.cells[first.objectType]?.[first.action];
  if (first !== undefined && drifted !== undefined) {
    say(`The evidence for ${first.sentence.split(':')[0]}'s ${first.objectType} ${first.action}:`);
    for (const evidence of drifted.evidence) say(`  ${evidence.sentence}`);
    say(`  ${drifted.status === 'inferred' ? drifted.conclusion : drifted.reason}`);
  }
  const unset = calibrated
    .flatMap((user) => Object.values(user.cells).flatMap((actions) => Object.values(actions ?? {})))
    .find((cell) => cell?.status === 'not-enough-evidence');
  if (unset?.status === 'not-enough-evidence') say(`A cell left unset: ${unset.reason}.`);
  say();
  const adopted = await call<CalibrationAdopted>('POST', '/api/v1/admin/calibration/adopt', { runId: result.runId });
  say(
    `Adopting HubSpot's levels (POST /api/v1/admin/calibration/adopt): policy version ${adopted.version}; ${adopted.drift.length} differences left, ${adopted.unresolved.length} cells unresolved.`,
  );
  say();
}
