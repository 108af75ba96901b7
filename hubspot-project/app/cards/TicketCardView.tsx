import { useState } from 'react';
import { Button, Divider, Flex, Select, Text } from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { accessPending, ActionReason, NoteComposer, ownershipLine, useWrites, type RecordCardActions } from '../shared/record-parts.tsx';
import { useLoad } from '../shared/useLoad.ts';

/** The HubSpot actions the ticket card uses, as `hubspot.extend` hands them to a `crm.record.tab` extension. */
export type TicketCardActions = RecordCardActions;

export function TicketCardView({ client, ticketId, actions }: { client: BackendClient; ticketId: string; actions: TicketCardActions }) {
  const [loaded, reload] = useLoad(() => client.access('tickets', ticketId));
  const [stageId, setStageId] = useState<string | undefined>(undefined);
  const { busy, perform } = useWrites(actions, reload);

  const pending = accessPending(loaded, 'ticket', reload);
  if (pending !== null || loaded.state !== 'ready') return pending;

  const access = loaded.data;
  const edit = access.verdicts.edit;
  const canEdit = edit?.allowed === true;
  const stages = access.record.stages ?? [];
  const mine = access.viewer.ownerId !== null && access.record.owner?.ownerId === access.viewer.ownerId;

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
      <NoteComposer
        canEdit={canEdit}
        busy={busy}
        onAdd={(body, sent) => void perform('Your note was added to the ticket.', () => client.addNote(ticketId, body), sent)}
      />
      <ActionReason verdict={access.verdicts.delete} />
    </Flex>
  );
}
