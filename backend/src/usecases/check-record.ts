import type { Decision } from '../access/decide.js';
import { LEVEL_LABELS } from '../access/catalogue.js';
import { actionsOf, type Action, type ObjectType } from '../access/model.js';
import type { Directory } from '../viewer/directory.js';
import type { AccessSource } from './access-source.js';
import type { ViewerContext } from './context.js';
import type { PipelineStages } from './pipeline-stages.js';
import { loadRecord, requireAll, type LoadedRecord } from './records.js';

/** A decision as the card shows it: the verdict and its words, without the facts behind it. */
export function verdict(decision: Decision) {
  return {
    allowed: decision.allowed,
    code: decision.code,
    message: decision.message,
    fix: decision.fix,
    level: decision.level,
    levelLabel: decision.level === null ? null : LEVEL_LABELS[decision.level],
    source: decision.source,
  };
}
export type Verdict = ReturnType<typeof verdict>;

function titleOf(loaded: LoadedRecord): string {
  if (loaded.objectType === 'tickets') return loaded.ticket.subject;
  return loaded.objectType === 'contacts' ? loaded.contact.name : loaded.record.title;
}

/**
 * checkRecord: the record (loaded once), its owner with team names, and the viewer's verdict on every action that
 * applies to it. Refused with the view decision when the viewer may not see the record at all.
 */
export function createCheckRecord(deps: { access: AccessSource; directory: Directory; pipelines: PipelineStages }) {
  return async function checkRecord(ctx: ViewerContext, ref: { objectType: ObjectType; id: string }) {
    // The account's team names do not depend on the record: asked for alongside it when not cached (a failure is met
    // again below, or not at all if the viewer may not see the record).
    const teamNames = deps.directory.teams(ctx.portal);
    teamNames.catch(() => undefined);
    const loaded = await loadRecord(deps.access, ctx, ref.objectType, ref.id);
    const [view] = await requireAll((action) => deps.access.decide(ctx, action, loaded.facts), ['view']);
    const others = actionsOf(ref.objectType).filter((action) => action !== 'view');
    const [decisions, teams, stages] = await Promise.all([
      Promise.all(others.map((action) => deps.access.decide(ctx, action, loaded.facts))),
      teamNames,
      loaded.objectType === 'tickets' ? deps.pipelines.stagesOf(ctx.portal, loaded.ticket.pipelineId, loaded.ticket.stageId) : Promise.resolve(undefined),
    ]);
    const owner = loaded.facts.owner;
    const teamName = (teamId: string) => teams.find((team) => team.id === teamId)?.name ?? `Team ${teamId}`;
    return {
      record: {
        objectType: ref.objectType,
        id: ref.id,
        title: titleOf(loaded),
        owner: owner === null ? null : { ownerId: owner.ownerId, name: owner.name, teams: owner.teamIds.map((id) => ({ id, name: teamName(id) })) },
        ...(loaded.objectType === 'tickets'
          ? { pipelineId: loaded.ticket.pipelineId, stageId: loaded.ticket.stageId, stages: (stages ?? []).map(({ id, label }) => ({ id, label })) }
          : {}),
        ...('record' in loaded ? { details: loaded.record.details } : {}),
      },
      viewer: { userId: ctx.viewer.userId, ownerId: ctx.viewer.ownerId, superAdmin: ctx.viewer.superAdmin, teams: ctx.viewer.teams },
      verdicts: Object.fromEntries<Verdict>([
        ['view', verdict(view as Decision)],
        ...others.map((action, index): [Action, Verdict] => [action, verdict(decisions[index] as Decision)]),
      ]),
    };
  };
}
