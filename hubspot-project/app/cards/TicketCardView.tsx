import { useState } from 'react';
import { Alert, Button, Divider, Flex, LoadingSpinner, Select, Text, TextArea, type CrmHostActions } from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { BackendError, describeError } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { TicketAccess, Verdict } from '../shared/types.ts';
import { useLoad } from '../shared/useLoad.ts';

/** The HubSpot actions the ticket card uses, as `hubspot.extend` hands them to a `crm.record.tab` extension. */
export type TicketCardActions = Pick<CrmHostActions, 'addAlert' | 'refreshObjectProperties'>;

/** "Owned by Ana Silva, Support EU. You have Team access." */
export function ownershipLine(access: TicketAccess): string {
  const owner = access.record.owner;
  const owned =
    owner === null
      ? 'Not assigned to anyone.'
      : `Owned by ${owner.name}${owner.teams.length > 0 ? `, ${owner.teams.map((team) => team.name).join(', ')}` : ''}.`;
  const view = access.verdicts.view;
  const level = access.viewer.superAdmin ? 'You are a Super Admin.' : view?.levelLabel ? `You have ${view.levelLabel} access.` : '';
  return `${owned} ${level}`.trim();
}

/** One action: enabled with its button, or disabled with the reason and the fix next to it. */
function ActionReason({ verdict }: { verdict: Verdict | undefined }) {
  if (verdict === undefined || verdict.allowed) return null;
  return (
    <Text variant="microcopy">
      {verdict.message}
      {verdict.fix !== null ? ` ${verdict.fix}` : ''}
    </Text>
  );
}

export function TicketCardView({ client, ticketId, actions }: { client: BackendClient; ticketId: string; actions: TicketCardActions }) {
  const [loaded, reload] = useLoad(() => client.access('tickets', ticketId));
  const [stageId, setStageId] = useState<string | undefined>(undefined);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);

  if (loaded.state === 'loading') return <LoadingSpinner label="Checking what you can do on this ticket…" showLabel />;
  if (loaded.state === 'error') {
    const error = loaded.error;
    if (error instanceof BackendError && error.status === 403 && error.code !== 'USER_NOT_IN_PORTAL') {
      return (
        <Alert title="You can't work on this ticket through Viewer Guard" variant="warning">
          {error.message}
          {error.fix !== null ? ` ${error.fix}` : ''}
        </Alert>
      );
    }
    return <ErrorView error={error} onRetry={reload} />;
  }

  const access = loaded.data;
  const edit = access.verdicts.edit;
  const canEdit = edit?.allowed === true;
  const stages = access.record.stages ?? [];
  const mine = access.viewer.ownerId !== null && access.record.owner?.ownerId === access.viewer.ownerId;

  async function perform(what: string, write: () => Promise<unknown>) {
    setBusy(true);
    try {
      await write();
    } catch (error) {
      const described = describeError(error);
      actions.addAlert({ type: 'danger', title: described.title, message: `${described.message}${described.fix !== null ? ` ${described.fix}` : ''}` });
      return;
    } finally {
      setBusy(false);
    }
    // Our backend wrote the ticket, not HubSpot's page, so the record page keeps showing the old owner and stage until
    // told to re-read the record's properties. That is the SDK's CRM property action `refreshObjectProperties`
    // (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensions/ui-extensions-sdk/actions),
    // and HubSpot's own example calls it once its write has succeeded (HubSpot/ui-extensions-examples, bi-directional-property-refresh).
    actions.refreshObjectProperties();
    actions.addAlert({ type: 'success', message: what });
    setNote('');
    reload();
  }

  return (
    <Flex direction="column" gap="sm">
      <Text format={{ fontWeight: 'bold' }}>{access.record.title}</Text>
      <Text>{ownershipLine(access)}</Text>
      <Divider />
      <Flex direction="column" gap="xs">
        <Button
          testId="assign-to-me"
          disabled={!canEdit || mine || busy}
          onClick={() => void perform('The ticket is now assigned to you.', () => client.assignToMe(ticketId))}
        >
          {mine ? 'Assigned to you' : 'Assign to me'}
        </Button>
        <ActionReason verdict={edit} />
      </Flex>
      <Flex direction="row" gap="sm" align="end">
        <Select
          label="Stage"
          name="stage"
          readOnly={!canEdit}
          value={stageId ?? access.record.stageId ?? undefined}
          options={stages.map((stage) => ({ label: stage.label, value: stage.id }))}
          onChange={(value) => setStageId(String(value))}
        />
        <Button
          testId="move-stage"
          disabled={!canEdit || busy || stageId === undefined || stageId === access.record.stageId}
          onClick={() => void perform('The ticket moved to its new stage.', () => client.moveStage(ticketId, stageId ?? ''))}
        >
          Move
        </Button>
      </Flex>
      <TextArea label="Add a note" name="note" readOnly={!canEdit} value={note} onChange={setNote} />
      <Button
        testId="add-note"
        disabled={!canEdit || busy || note.trim() === ''}
        onClick={() => void perform('Your note was added to the ticket.', () => client.addNote(ticketId, note))}
      >
        Add note
      </Button>
      <ActionReason verdict={access.verdicts.delete} />
    </Flex>
  );
}
