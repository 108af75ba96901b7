import { useState, type ReactElement } from 'react';
import { Alert, Button, LoadingSpinner, Text, TextArea, type CrmHostActions } from '@hubspot/ui-extensions';
import { BackendError, describeError } from './backend-client.ts';
import { ErrorView } from './ErrorView.tsx';
import type { RecordAccess, Verdict } from './types.ts';
import type { Loaded } from './useLoad.ts';

/** The HubSpot actions the record cards use, as `hubspot.extend` hands them to a `crm.record.tab` extension. */
export type RecordCardActions = Pick<CrmHostActions, 'addAlert' | 'refreshObjectProperties'>;

/** "Owned by Ana Silva, Support EU. You have Team access." */
export function ownershipLine(access: RecordAccess): string {
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
export function ActionReason({ verdict }: { verdict: Verdict | undefined }) {
  if (verdict === undefined || verdict.allowed) return null;
  return (
    <Text variant="microcopy">
      {verdict.message}
      {verdict.fix !== null ? ` ${verdict.fix}` : ''}
    </Text>
  );
}

/**
 * What a record card shows until its access is loaded: a spinner, the refusal in the decision's own words (a 403 other
 * than an unknown user, who is better served by the error view's advice), or the error with a retry. Null once ready.
 */
export function accessPending(loaded: Loaded<RecordAccess>, noun: string, reload: () => void): ReactElement | null {
  if (loaded.state === 'loading') return <LoadingSpinner label={`Checking what you can do on this ${noun}…`} showLabel />;
  if (loaded.state === 'ready') return null;
  const error = loaded.error;
  if (error instanceof BackendError && error.status === 403 && error.code !== 'USER_NOT_IN_PORTAL') {
    return (
      <Alert title={`You can't work on this ${noun} through Viewer Guard`} variant="warning">
        {error.message}
        {error.fix !== null ? ` ${error.fix}` : ''}
      </Alert>
    );
  }
  return <ErrorView error={error} onRetry={reload} />;
}

/**
 * Runs one write at a time: a failure becomes a danger alert in the backend's words; a success asks HubSpot's record
 * page to re-read the record, says so, and reloads the card. Our backend wrote the record, not HubSpot's page, so the
 * page keeps showing the old values until told to re-read the record's properties. That is the SDK's CRM property
 * action `refreshObjectProperties` (https://developers.hubspot.com/docs/apps/developer-platform/add-features/
 * ui-extensions/ui-extensions-sdk/actions), and HubSpot's own example calls it once its write has succeeded
 * (HubSpot/ui-extensions-examples, bi-directional-property-refresh).
 */
export function useWrites(actions: RecordCardActions, reload: () => void) {
  const [busy, setBusy] = useState(false);
  async function perform(done: string, write: () => Promise<unknown>, after: () => void = () => undefined) {
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
    actions.refreshObjectProperties();
    actions.addAlert({ type: 'success', message: done });
    after();
    reload();
  }
  return { busy, perform };
}

/** "Add a note": a text area and its button, usable only when the viewer may edit; the text is cleared once sent. */
export function NoteComposer({ canEdit, busy, onAdd }: { canEdit: boolean; busy: boolean; onAdd: (body: string, sent: () => void) => void }) {
  const [note, setNote] = useState('');
  return (
    <>
      <TextArea label="Add a note" name="note" readOnly={!canEdit} value={note} onChange={setNote} />
      <Button testId="add-note" disabled={!canEdit || busy || note.trim() === ''} onClick={() => onAdd(note, () => setNote(''))}>
        Add note
      </Button>
    </>
  );
}
