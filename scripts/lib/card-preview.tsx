import { Alert, Button, EmptyState, ErrorState, Input, LoadingSpinner, Select, TableCell, TableRow, Text, TextArea } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { ContactCardView } from '../../hubspot-project/app/cards/ContactCardView.tsx';
import { TicketCardView } from '../../hubspot-project/app/cards/TicketCardView.tsx';
import type { ReactNode } from 'react';
import { createBackendClient, type BackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { signingFetch } from '../../test/support/hubspot-fetch.ts';

/**
 * Renders the real cards with HubSpot's own test renderer, fed by a live backend through signed requests, and
 * reduces what a user would see to a few lines of text: the card without HubSpot.
 */
export interface PreviewTarget {
  backendUrl: string;
  clientSecret: string;
  portalId: number;
  userId: number;
  /** HubSpot appends it with the viewer's identity, as Viewer Guard assumes it does in production. */
  appId: number;
}

type Renderer = ReturnType<typeof createRenderer<'crm.record.tab'>>;

async function settle(renderer: Renderer): Promise<void> {
  await renderer.waitFor(
    () => {
      if (renderer.maybeFind(LoadingSpinner) !== null) throw new Error('still loading');
    },
    { timeoutInMs: 15_000 },
  );
}

function describe(renderer: Renderer): string[] {
  const refused = renderer.maybeFind(Alert) ?? renderer.maybeFind(EmptyState) ?? renderer.maybeFind(ErrorState);
  if (refused !== null && renderer.maybeFind(Button, { testId: 'assign-to-me' }) === null && renderer.findAll(TableRow).length === 0) {
    const title = 'title' in refused.props ? String(refused.props.title) : '';
    const body =
      refused.text ??
      refused
        .findAll(Text)
        .map((node) => node.text)
        .join(' ');
    return [`${title}: ${body}`.trim()];
  }
  const lines: string[] = [];
  const rows = renderer.findAll(TableRow).slice(1);
  for (const row of rows)
    lines.push(
      `  ${row
        .findAll(TableCell)
        .map((cell) => cell.text)
        .join(' | ')}`,
    );
  const texts = renderer
    .findAll(Text)
    .map((node) => node.text ?? '')
    .filter((text) => text !== '');
  lines.push(...texts.map((text) => `  ${text}`));
  // A write button also waits for input (a stage, a note, a subject); it is refused only when its field is read-only.
  const fields: Array<{ props: { readOnly?: boolean } }> = [...renderer.findAll(TextArea), ...renderer.findAll(Input), ...renderer.findAll(Select)];
  const waitsForInput = fields.some((field) => field.props.readOnly !== true);
  const buttons = renderer.findAll(Button).map((button) => {
    const testId = button.props.testId ?? '';
    const state =
      button.props.disabled !== true ? 'ok' : waitsForInput && ['move-stage', 'add-note', 'create-ticket'].includes(testId) ? 'needs input' : 'disabled';
    return `${button.text ?? ''} (${state})`;
  });
  if (buttons.length > 0) lines.push(`  buttons: ${buttons.join(', ')}`);
  return lines;
}

/** Renders one card for one user against the live backend and returns what it shows once loaded. */
async function preview(target: PreviewTarget, card: (client: BackendClient, actions: Renderer['mocks']['actions']) => ReactNode): Promise<string[]> {
  const renderer = createRenderer('crm.record.tab');
  const { portalId, userId, appId } = target;
  const client = createBackendClient({ fetch: signingFetch(target.clientSecret, { portalId, userId, appId }), portalId, userId, baseUrl: target.backendUrl });
  renderer.render(card(client, renderer.mocks.actions));
  await settle(renderer);
  return describe(renderer);
}

export const previewTicketCard = (target: PreviewTarget, ticketId: string) =>
  preview(target, (client, actions) => <TicketCardView client={client} ticketId={ticketId} actions={actions} />);

export const previewContactCard = (target: PreviewTarget, contactId: string) =>
  preview(target, (client, actions) => <ContactCardView client={client} contactId={contactId} actions={actions} />);
