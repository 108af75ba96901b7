import { useState } from 'react';
import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListItem,
  Flex,
  Heading,
  Input,
  Link,
  List,
  LoadingSpinner,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Tag,
  Text,
} from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { BackendError, describeError } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { AdminDirectory, AdminStatus, AuditEntry, Explanation, Level, LevelMap, ObjectTypeName, PolicyDocument } from '../shared/types.ts';
import { LEVEL_OPTIONS } from '../shared/levels.ts';
import { useLoad } from '../shared/useLoad.ts';
import { CalibrationSection } from './CalibrationSection.tsx';
import { StatisticsSection } from './StatisticsSection.tsx';

export interface SettingsActions {
  addAlert(alert: { type?: 'info' | 'warning' | 'success' | 'danger' | 'tip'; title?: string; message: string }): void;
}

/** Per object type (backend/src/access/model.ts OBJECT_TYPES): its names, and the actions its permission set has. */
const OBJECTS: Record<ObjectTypeName, { plural: string; singular: string; actions: string[] }> = {
  tickets: { plural: 'Tickets', singular: 'Ticket', actions: ['view', 'edit', 'delete'] },
  contacts: { plural: 'Contacts', singular: 'Contact', actions: ['view', 'edit', 'delete', 'communicate'] },
  deals: { plural: 'Deals', singular: 'Deal', actions: ['view', 'edit', 'delete'] },
  companies: { plural: 'Companies', singular: 'Company', actions: ['view', 'edit', 'delete', 'communicate'] },
};
const OBJECT_NAMES = Object.keys(OBJECTS) as ObjectTypeName[];
/** "deal", for an audit line; an object type this page does not know keeps its own name. */
const recordNoun = (objectType: string | null) =>
  objectType !== null && objectType in OBJECTS ? OBJECTS[objectType as ObjectTypeName].singular.toLowerCase() : (objectType ?? 'record');
type Scope = 'default' | 'roles' | 'teams' | 'users';

/**
 * Whether HubSpot itself named the viewer on the latest requests. Viewer Guard assumes it does (HubSpot's docs do not
 * say), so the first request in a real account confirms or refutes it; card-named requests happen only in development.
 */
export function identitySourceSentence({ hubspot, card }: AdminStatus['identitySource']): string {
  const total = hubspot + card;
  if (total === 0) return "No requests counted yet: the next one will show whether HubSpot sends the viewer's identity.";
  if (card === 0) return `HubSpot sent the viewer's identity on ${hubspot} of the last ${total} requests: the assumption holds.`;
  return (
    `HubSpot sent the viewer's identity on ${hubspot} of the last ${total} requests; on the other ${card} the card named the viewer itself, ` +
    'which Viewer Guard accepts only in local development (ALLOW_CARD_IDENTITY).'
  );
}

type AccessSourceState = AdminStatus['accessSource'];

/** What Viewer Guard does while HubSpot's permissions API cannot answer, by ACCESS_SOURCE. */
const MEANWHILE: Record<AccessSourceState['configured'], string> = {
  auto: 'Until it answers, Viewer Guard decides with the access levels below.',
  hubspot: 'Until it answers, Viewer Guard refuses every record it cannot confirm with HubSpot.',
  policy: 'Viewer Guard is set to decide with the access levels below (ACCESS_SOURCE=policy), so nobody is refused because of this.',
};

/**
 * The live state of HubSpot's permissions API (BETA), asked about one ticket when the status was built: what the
 * source does right now, not what it is configured to be.
 */
export function AccessSourceStatus({ source, installUrl }: { source: AccessSourceState; installUrl: string }) {
  const checked = `Checked at ${source.checkedAt.slice(11, 16)} UTC.`;
  const label = (
    <Flex direction="row" gap="xs" align="center">
      <Text format={{ fontWeight: 'demibold' }}>HubSpot's permissions API</Text>
      <Tag variant="warning">BETA</Tag>
    </Flex>
  );
  switch (source.live) {
    case 'answering':
      return (
        <Flex direction="column" gap="xs">
          {label}
          <Text>Answering: HubSpot says who may see and change each record. {checked}</Text>
        </Flex>
      );
    case 'not granted':
      return (
        <Flex direction="column" gap="xs">
          {label}
          <Alert title="HubSpot's permissions API is not granted" variant="warning">
            HubSpot refused to say who may access a record: this account has not granted Viewer Guard the permission for it. To fix it, a Super Admin reinstalls
            Viewer Guard from <Link href={installUrl}>the install page</Link> and approves every permission HubSpot asks for, optional ones included.{' '}
            {MEANWHILE[source.configured]} {checked}
          </Alert>
        </Flex>
      );
    case 'unavailable':
      return (
        <Flex direction="column" gap="xs">
          {label}
          <Alert title="HubSpot's permissions API is unavailable" variant="warning">
            {source.detail ?? 'HubSpot did not answer.'} {MEANWHILE[source.configured]} {checked}
          </Alert>
        </Flex>
      );
    case 'unexpected answer':
      return (
        <Flex direction="column" gap="xs">
          {label}
          <Alert title="HubSpot's permissions API answered in a shape Viewer Guard does not know" variant="danger">
            {source.detail ?? ''} Viewer Guard treats such answers as unknown, never as allowed. {MEANWHILE[source.configured]} Please report it to Viewer Guard
            support. {checked}
          </Alert>
        </Flex>
      );
  }
}

const RECORD_WORD: Record<string, string> = { tickets: 'ticket', contacts: 'contact' };

/** The latest writes that failed or whose outcome is unknown: what was tried, on which record, and what to check. */
export function RecentFailures({ failures }: { failures: AdminStatus['recentFailures'] }) {
  const unknown = failures.some((failure) => failure.outcome === 'unknown');
  return (
    <Alert title={unknown ? 'Recent changes that failed or may not have been made' : 'Recent changes that failed'} variant={unknown ? 'danger' : 'warning'}>
      <List>
        {failures.map((failure) => {
          const record = failure.recordId === null ? '' : ` on ${RECORD_WORD[failure.objectType ?? ''] ?? 'record'} ${failure.recordId}`;
          return (
            <Flex key={`${failure.at} ${failure.action} ${failure.recordId ?? ''}`} direction="column" gap="flush">
              <Text>{`${failure.at.slice(0, 16).replace('T', ' ')} UTC, ${failure.action}${record}: ${failure.meaning}`}</Text>
              {failure.message !== null && <Text variant="microcopy">{failure.message}</Text>}
            </Flex>
          );
        })}
      </List>
    </Alert>
  );
}

export function StatusSection({ status }: { status: AdminStatus }) {
  const installation = status.installation;
  if (installation === null) {
    return (
      <Alert title="Viewer Guard is not installed in this account" variant="warning">
        A Super Admin installs it once: <Link href={status.installUrl}>open the install page</Link>.
      </Alert>
    );
  }
  return (
    <Flex direction="column" gap="sm">
      {installation.status !== 'active' && (
        <Alert title="Viewer Guard needs to be reconnected" variant="danger">
          {installation.statusReason ?? 'HubSpot no longer accepts its access.'} <Link href={status.installUrl}>Reinstall it</Link> (Super Admins only).
        </Alert>
      )}
      <DescriptionList direction="row">
        <DescriptionListItem label="Installed by">
          <Text>{installation.installedBy.name ?? `User ${installation.installedBy.userId}`}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Installed on">
          <Text>{installation.installedAt.slice(0, 10)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Access decided by">
          <Text>{status.accessSource.configured === 'policy' ? 'the levels below' : "HubSpot's permissions, with the levels below as words and fallback"}</Text>
        </DescriptionListItem>
      </DescriptionList>
      <AccessSourceStatus source={status.accessSource} installUrl={status.installUrl} />
      <Text>{identitySourceSentence(status.identitySource)}</Text>
      {status.identitySource.since !== null && (
        <Text variant="microcopy">Counted by this Viewer Guard server since {status.identitySource.since.slice(0, 16).replace('T', ' ')} UTC.</Text>
      )}
      {status.scopes.missing.length > 0 ? (
        <Alert title="Some permissions were not granted" variant="warning">
          {status.scopes.missing.map((missing) => `${missing.scope} (needed for ${missing.disables})`).join('; ')}. Reinstall to grant them.
        </Alert>
      ) : (
        <Text variant="microcopy">All requested permissions are granted.</Text>
      )}
      {status.recentFailures.length > 0 && <RecentFailures failures={status.recentFailures} />}
    </Flex>
  );
}

/** Who a rule reaches, so an admin sees the effect before saving. */
export function affectedUsers(directory: AdminDirectory, scope: Scope, id: string): string[] {
  const users = directory.users.filter((user) => !user.superAdmin);
  const hit =
    scope === 'default'
      ? users
      : scope === 'users'
        ? users.filter((user) => String(user.id) === id)
        : scope === 'teams'
          ? users.filter((user) => user.teamIds.includes(id))
          : users.filter((user) => user.roleIds.includes(id));
  return hit.map((user) => user.name);
}

export function PolicyEditor({
  client,
  directory,
  initial,
  actions,
}: {
  client: BackendClient;
  directory: AdminDirectory;
  initial: PolicyDocument;
  actions: SettingsActions;
}) {
  const [policy, setPolicy] = useState<PolicyDocument>(initial);
  const [scope, setScope] = useState<Scope>('default');
  const [entity, setEntity] = useState<string>('');
  const [objectType, setObjectType] = useState<ObjectTypeName>('tickets');
  const [saving, setSaving] = useState(false);
  /** Why the last save was refused, rule by rule, kept until the next save so the admin can fix each one. */
  const [problems, setProblems] = useState<string[]>([]);

  const entities =
    scope === 'users'
      ? directory.users.map((user) => ({ id: String(user.id), name: user.name }))
      : scope === 'teams'
        ? directory.teams
        : scope === 'roles'
          ? directory.roles
          : [];
  const key = scope === 'default' ? '' : entity;
  const current = scope === 'default' ? policy.default : (policy[scope][key] ?? {});

  function replaceRule(next: LevelMap | undefined) {
    if (scope === 'default') {
      setPolicy({ ...policy, default: next ?? {} });
      return;
    }
    const { [key]: _removed, ...others } = policy[scope];
    setPolicy({ ...policy, [scope]: next === undefined ? others : { ...others, [key]: next } });
  }

  function setLevel(action: string, level: Level) {
    replaceRule({ ...current, [objectType]: { ...(current[objectType] ?? {}), [action]: level } });
  }

  /** Drops this rule's levels for the chosen records, so the next less specific rule applies again. */
  function clearRule() {
    const { [objectType]: _cleared, ...rest } = current;
    replaceRule(Object.keys(rest).length === 0 ? undefined : rest);
  }

  async function save() {
    setSaving(true);
    try {
      const saved = await client.savePolicy(policy);
      setProblems([]);
      actions.addAlert({ type: 'success', message: `Access levels saved (version ${saved.version}).` });
    } catch (error) {
      setProblems(error instanceof BackendError && error.code === 'VALIDATION_FAILED' ? error.details.map((detail) => detail.message) : []);
      const described = describeError(error);
      actions.addAlert({ type: 'danger', title: 'The levels were not saved', message: described.message });
    } finally {
      setSaving(false);
    }
  }

  const affected = scope === 'default' || entity !== '' ? affectedUsers(directory, scope, entity) : [];
  return (
    <Flex direction="column" gap="sm">
      {problems.length > 0 && (
        <Alert title="The levels were not saved. Fix these rules:" variant="danger">
          <List>
            {problems.map((problem) => (
              <Text key={problem}>{problem}</Text>
            ))}
          </List>
        </Alert>
      )}
      <Flex direction="row" gap="sm">
        <Select
          label="Applies to"
          name="scope"
          value={scope}
          options={[
            { label: 'Everyone (account default)', value: 'default' },
            { label: 'A role', value: 'roles' },
            { label: 'A team', value: 'teams' },
            { label: 'A user', value: 'users' },
          ]}
          onChange={(value) => {
            setScope(value as Scope);
            setEntity('');
          }}
        />
        {scope !== 'default' && (
          <Select
            label="Which"
            name="entity"
            value={entity}
            options={entities.map((item) => ({ label: item.name, value: String(item.id) }))}
            onChange={(value) => setEntity(String(value))}
          />
        )}
        <Select
          label="Records"
          name="objectType"
          value={objectType}
          options={OBJECT_NAMES.map((name) => ({ label: OBJECTS[name].plural, value: name }))}
          onChange={(value) => setObjectType(value as ObjectTypeName)}
        />
      </Flex>
      {(scope === 'default' || entity !== '') && (
        <Flex direction="row" gap="sm">
          {OBJECTS[objectType].actions.map((action) => (
            <Select
              key={action}
              label={action}
              name={`level-${action}`}
              value={current[objectType]?.[action] ?? ''}
              options={LEVEL_OPTIONS}
              onChange={(value) => setLevel(action, value as Level)}
            />
          ))}
        </Flex>
      )}
      {affected.length > 0 && <Text variant="microcopy">Affects: {affected.join(', ')}. Super Admins always have All access; more specific rules win.</Text>}
      {current[objectType] !== undefined && (
        <Button testId="clear-rule" variant="secondary" onClick={clearRule}>
          Clear this rule
        </Button>
      )}
      <Button testId="save-policy" variant="primary" disabled={saving} onClick={() => void save()}>
        Save access levels
      </Button>
    </Flex>
  );
}

export function DecisionExplorer({ client, directory }: { client: BackendClient; directory: AdminDirectory }) {
  const [userId, setUserId] = useState<number | undefined>(undefined);
  const [objectType, setObjectType] = useState<ObjectTypeName>('tickets');
  const [recordId, setRecordId] = useState('');
  const [action, setAction] = useState('view');
  const [result, setResult] = useState<Explanation | { error: string } | null>(null);

  async function explain() {
    if (userId === undefined) return;
    try {
      setResult(await client.explain({ userId, objectType, recordId: recordId.trim(), action }));
    } catch (error) {
      setResult({ error: describeError(error).message });
    }
  }

  return (
    <Flex direction="column" gap="sm">
      <Flex direction="row" gap="sm">
        <Select
          label="User"
          name="explain-user"
          value={userId}
          options={directory.users.map((user) => ({ label: user.name, value: user.id }))}
          onChange={(value) => setUserId(Number(value))}
        />
        <Select
          label="Record type"
          name="explain-type"
          value={objectType}
          options={OBJECT_NAMES.map((name) => ({ label: OBJECTS[name].singular, value: name }))}
          onChange={(value) => setObjectType(value as ObjectTypeName)}
        />
        <Input label="Record id" name="explain-record" value={recordId} onChange={setRecordId} />
        <Select
          label="Action"
          name="explain-action"
          value={action}
          options={OBJECTS[objectType].actions.map((name) => ({ label: name, value: name }))}
          onChange={(value) => setAction(String(value))}
        />
      </Flex>
      <Button testId="explain" disabled={userId === undefined || !/^\d+$/.test(recordId.trim())} onClick={() => void explain()}>
        Explain
      </Button>
      {result !== null &&
        ('error' in result ? (
          <Alert title="Could not explain" variant="warning">
            {result.error}
          </Alert>
        ) : (
          <Alert
            title={result.decision.allowed ? `Allowed (${result.decision.code})` : `Refused (${result.decision.code})`}
            variant={result.decision.allowed ? 'success' : 'warning'}
          >
            {result.decision.message}
            {result.decision.fix !== null ? ` ${result.decision.fix}` : ''} Decided by {result.decision.source}; matching level rule:{' '}
            {result.trace.policyRule.rule} ({result.trace.policyRule.level}).
          </Alert>
        ))}
    </Flex>
  );
}

export function AuditLog({ client, directory }: { client: BackendClient; directory: AdminDirectory }) {
  const [pages, setPages] = useState<AuditEntry[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [first, reload] = useLoad(async () => {
    const page = await client.audit({});
    setPages([page.entries]);
    setCursor(page.nextCursor);
    return page;
  });
  if (first.state === 'loading') return <LoadingSpinner label="Loading the audit log…" />;
  if (first.state === 'error') return <ErrorView error={first.error} onRetry={reload} />;
  const entries = pages.flat();
  const nameOf = (userId: number) => directory.users.find((user) => user.id === userId)?.name ?? `User ${userId}`;

  async function older() {
    if (cursor === null) return;
    const page = await client.audit({ before: cursor });
    setPages((previous) => [...previous, page.entries]);
    setCursor(page.nextCursor);
  }

  if (entries.length === 0) return <Text>Nothing has been recorded yet.</Text>;
  return (
    <Flex direction="column" gap="sm">
      <Table>
        <TableHead>
          <TableRow>
            <TableHeader>When</TableHeader>
            <TableHeader>Who</TableHeader>
            <TableHeader>What</TableHeader>
            <TableHeader>Outcome</TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {entries.map((entry) => (
            <TableRow key={entry.id}>
              <TableCell>{entry.at.replace('T', ' ').slice(0, 16)}</TableCell>
              <TableCell>{nameOf(entry.userId)}</TableCell>
              <TableCell>{`${entry.action}${entry.recordId !== null ? ` ${recordNoun(entry.objectType)} ${entry.recordId}` : ''}`}</TableCell>
              <TableCell>{`${entry.outcome}${entry.decisionCode !== null ? ` (${entry.decisionCode})` : ''}`}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {cursor !== null && (
        <Button testId="older" onClick={() => void older()}>
          Show older entries
        </Button>
      )}
    </Flex>
  );
}

export function SettingsPageView({ client, actions }: { client: BackendClient; actions: SettingsActions }) {
  const [loaded, reload] = useLoad(async () => {
    const [status, directory, policy] = await Promise.all([client.adminStatus(), client.adminDirectory(), client.policy()]);
    return { status, directory, policy };
  });
  if (loaded.state === 'loading') return <LoadingSpinner label="Loading Viewer Guard's settings…" showLabel />;
  if (loaded.state === 'error') return <ErrorView error={loaded.error} onRetry={reload} />;
  const { status, directory, policy } = loaded.data;
  return (
    <Flex direction="column" gap="md">
      <Heading>Install status</Heading>
      <StatisticsSection client={client} />
      <StatusSection status={status} />
      <Heading>Access levels</Heading>
      <Text variant="microcopy">
        Mirror each role's, team's or user's HubSpot permission levels here. They decide when HubSpot's permissions API cannot answer, and explain every
        decision in plain words.
      </Text>
      <PolicyEditor client={client} directory={directory} initial={policy.document} actions={actions} />
      <CalibrationSection client={client} actions={actions} />
      <Heading>Why can't someone open a record?</Heading>
      <DecisionExplorer client={client} directory={directory} />
      <Heading>Audit log</Heading>
      <AuditLog client={client} directory={directory} />
    </Flex>
  );
}
