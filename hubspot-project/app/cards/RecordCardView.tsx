import { hubspot, Button, DescriptionList, DescriptionListItem, Divider, Flex, Text } from '@hubspot/ui-extensions';
import { createBackendClient, type BackendClient } from '../shared/backend-client.ts';
import { accessPending, ActionReason, NoteComposer, ownershipLine, useWrites, type RecordCardActions } from '../shared/record-parts.tsx';
import type { RecordCardType, Verdict } from '../shared/types.ts';
import { useLoad } from '../shared/useLoad.ts';

/** Words per object type; a custom object added to the record card gets an entry here. */
const NOUNS: Record<RecordCardType, string> = { deals: 'deal', companies: 'company' };
/** Labels for the details the backend sends (hubspot/crm.ts CRM_OBJECTS `details`); an unknown one shows its own name. */
const DETAIL_LABELS: Record<string, string> = { amount: 'Amount', stage: 'Stage', domain: 'Domain' };
const ACTION_LABELS: Record<string, string> = { view: 'Open', edit: 'Edit', delete: 'Delete', communicate: 'Email or call' };

/** The viewer's verdict on one action: yes, or no with the reason and the fix. */
function VerdictLine({ action, verdict }: { action: string; verdict: Verdict }) {
  return (
    <Flex direction="column" gap="flush">
      <Text testId={`verdict-${action}`}>
        {ACTION_LABELS[action] ?? action}: {verdict.allowed ? 'allowed' : 'not allowed'}
      </Text>
      <ActionReason verdict={verdict} />
    </Flex>
  );
}

/**
 * The card on deal and company records (and any object type marked `recordCard`): the record, its owner, the viewer's
 * verdict on every action, and the two actions that make sense there, assign to me and add a note, each enabled only
 * when the viewer may edit the record. The backend checks each again before it writes.
 */
export function RecordCardView({
  client,
  objectType,
  recordId,
  actions,
}: {
  client: BackendClient;
  objectType: RecordCardType;
  recordId: string;
  actions: RecordCardActions;
}) {
  const noun = NOUNS[objectType];
  const [loaded, reload] = useLoad(() => client.access(objectType, recordId));
  const { busy, perform } = useWrites(actions, reload);

  const pending = accessPending(loaded, noun, reload);
  if (pending !== null || loaded.state !== 'ready') return pending;

  const access = loaded.data;
  const edit = access.verdicts.edit;
  const canEdit = edit?.allowed === true;
  const mine = access.viewer.ownerId !== null && access.record.owner?.ownerId === access.viewer.ownerId;
  const details = Object.entries(access.record.details ?? {}).filter((entry): entry is [string, string] => entry[1] !== null);

  return (
    <Flex direction="column" gap="sm">
      <Text format={{ fontWeight: 'bold' }}>{access.record.title}</Text>
      <Text>{ownershipLine(access)}</Text>
      {details.length > 0 && (
        <DescriptionList direction="row">
          {details.map(([name, value]) => (
            <DescriptionListItem key={name} label={DETAIL_LABELS[name] ?? name}>
              <Text>{value}</Text>
            </DescriptionListItem>
          ))}
        </DescriptionList>
      )}
      <Divider />
      {Object.entries(access.verdicts).map(([action, verdict]) => (
        <VerdictLine key={action} action={action} verdict={verdict} />
      ))}
      <Divider />
      <Button
        testId="assign-to-me"
        disabled={!canEdit || mine || busy}
        onClick={() => void perform(`The ${noun} is now assigned to you.`, () => client.assignRecordToMe(objectType, recordId))}
      >
        {mine ? 'Assigned to you' : 'Assign to me'}
      </Button>
      <NoteComposer
        canEdit={canEdit}
        busy={busy}
        onAdd={(body, sent) => void perform(`Your note was added to the ${noun}.`, () => client.addRecordNote(objectType, recordId, body), sent)}
      />
    </Flex>
  );
}

/** The entry point of the card on one object type's records (DealCard.tsx, CompanyCard.tsx). */
export function extendRecordCard(objectType: RecordCardType): void {
  hubspot.extend<'crm.record.tab'>(({ context, actions }) => (
    <RecordCardView
      client={createBackendClient({ fetch: hubspot.fetch, portalId: context.portal.id, userId: context.user.id })}
      objectType={objectType}
      recordId={String(context.crm.objectId)}
      actions={actions}
    />
  ));
}
