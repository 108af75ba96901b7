import { Button, ErrorState, Link, Text } from '@hubspot/ui-extensions';
import { describeError } from './backend-client.ts';

/** Every failure the same way: what happened, what to do, a retry when it can help, the install link for admins. */
export function ErrorView({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const described = describeError(error);
  return (
    <ErrorState title={described.title} type="error">
      <Text>{described.message}</Text>
      {described.fix !== null && <Text variant="microcopy">{described.fix}</Text>}
      {described.link !== null && <Link href={described.link}>Open the Viewer Guard install page (Super Admins)</Link>}
      {described.retry && <Button onClick={onRetry}>Try again</Button>}
    </ErrorState>
  );
}
