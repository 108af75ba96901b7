import { useEffect, useState } from 'react';
import {
  Alert,
  Button,
  Flex,
  Heading,
  List,
  LoadingSpinner,
  ProgressBar,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
} from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { failureAlert } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { CalibrationCell, CalibrationView } from '../shared/types.ts';
import { LEVEL_LABELS } from '../shared/levels.ts';
import { useLoad } from '../shared/useLoad.ts';

/** How often the section asks for progress while a run is going: a run takes seconds to minutes. */
const POLL_MS = 3_000;

const capitalized = (word: string) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`;

function cellText(cell: CalibrationCell | undefined): string {
  if (cell === undefined) return '';
  if (cell.status === 'inferred') return LEVEL_LABELS[cell.level];
  return cell.status === 'contradictory' ? 'Answers disagree' : 'Not enough evidence';
}

type Result = NonNullable<CalibrationView['result']>;

/** The object types and their actions, in the order the result lists them. */
function columnsOf(result: Result): Array<{ objectType: string; actions: string[] }> {
  const first = result.users.find((user) => user.skipped === null);
  return Object.entries(first?.cells ?? {}).map(([objectType, actions]) => ({ objectType, actions: Object.keys(actions ?? {}) }));
}

function InferredTables({ result }: { result: Result }) {
  const calibrated = result.users.filter((user) => user.skipped === null);
  const superAdmins = result.users.filter((user) => user.skipped === 'super-admin').map((user) => user.name);
  return (
    <Flex direction="column" gap="sm">
      {superAdmins.length > 0 && <Text>{`Super Admins (${superAdmins.join(', ')}) have every permission in HubSpot and are not calibrated.`}</Text>}
      {result.unreadable.map(({ objectType, reason }) => (
        <Text key={objectType}>{`${capitalized(objectType)} not calibrated: ${reason}`}</Text>
      ))}
      {columnsOf(result).map(({ objectType, actions }) => (
        <Table key={objectType}>
          <TableHead>
            <TableRow>
              <TableHeader>{capitalized(objectType)}</TableHeader>
              {actions.map((action) => (
                <TableHeader key={action}>{capitalized(action)}</TableHeader>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {result.roles.map((role) => (
              <TableRow key={`role-${role.roleId}`}>
                <TableCell>{`Role: ${role.name}`}</TableCell>
                {actions.map((action) => {
                  const level = role.levels[objectType]?.[action];
                  return <TableCell key={action}>{level === undefined ? 'Users differ' : LEVEL_LABELS[level]}</TableCell>;
                })}
              </TableRow>
            ))}
            {calibrated.map((user) => (
              <TableRow key={user.userId}>
                <TableCell>{user.name}</TableCell>
                {actions.map((action) => (
                  <TableCell key={action}>{cellText(user.cells[objectType]?.[action])}</TableCell>
                ))}
              </TableRow>
            ))}
          </TableBody>
        </Table>
      ))}
    </Flex>
  );
}

/** Why one cell reads as it does: HubSpot's answers about the sampled records, then the conclusion or what is missing. */
function EvidenceExplorer({ result }: { result: Result }) {
  const cells = result.users.flatMap((user) =>
    Object.entries(user.cells).flatMap(([objectType, actions]) =>
      Object.entries(actions ?? {}).flatMap(([action, cell]) =>
        cell === undefined ? [] : [{ key: `${user.userId}:${objectType}:${action}`, label: `${user.name} · ${objectType} · ${capitalized(action)}`, cell }],
      ),
    ),
  );
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const cell = cells.find((candidate) => candidate.key === chosen)?.cell;
  return (
    <Flex direction="column" gap="xs">
      <Select
        name="evidence-cell"
        label="Evidence for"
        options={cells.map(({ key, label }) => ({ value: key, label }))}
        value={chosen}
        onChange={(value) => setChosen(typeof value === 'string' ? value : undefined)}
      />
      {cell !== undefined && (
        <>
          <List variant="unordered-styled">
            {cell.evidence.map((evidence) => (
              <Text key={`${evidence.recordId}-${String(evidence.allowed)}`}>{evidence.sentence}</Text>
            ))}
          </List>
          <Text format={{ fontWeight: 'bold' }}>{cell.status === 'inferred' ? cell.conclusion : cell.reason}</Text>
        </>
      )}
    </Flex>
  );
}

function DriftTable({ result, onAdopt, adopting }: { result: Result; onAdopt: () => void; adopting: boolean }) {
  if (result.drift.length === 0) return <Text>The saved policy agrees with every level HubSpot's answers show.</Text>;
  return (
    <Flex direction="column" gap="sm">
      <Table>
        <TableHead>
          <TableRow>
            <TableHeader>Difference</TableHeader>
            <TableHeader>Policy rule</TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {result.drift.map((drift) => (
            <TableRow key={`${drift.userId}:${drift.objectType}:${drift.action}`}>
              <TableCell>{drift.sentence}</TableCell>
              <TableCell>{drift.rule}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Button testId="adopt-calibration" variant="primary" disabled={adopting} onClick={onAdopt}>
        Adopt HubSpot's levels
      </Button>
    </Flex>
  );
}

/**
 * Calibration: Viewer Guard asks HubSpot's permissions API about sample records and infers each user's level, so the
 * mirrored policy can be checked against HubSpot instead of kept by hand. Cells without evidence stay unset.
 */
export function CalibrationSection({
  client,
  actions,
}: {
  client: BackendClient;
  actions: { addAlert(alert: { type?: 'success' | 'danger'; title?: string; message: string }): void };
}) {
  const [loaded, reload] = useLoad(() => client.calibration());
  const [busy, setBusy] = useState(false);
  const running = loaded.state === 'ready' && loaded.data.latest?.state === 'running';
  useEffect(() => {
    if (!running) return undefined;
    const timer = setTimeout(reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [running, loaded]);

  async function act(work: () => Promise<string>) {
    setBusy(true);
    try {
      actions.addAlert({ type: 'success', message: await work() });
      reload();
    } catch (error) {
      actions.addAlert(failureAlert(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Flex direction="column" gap="sm">
      <Heading>Calibration</Heading>
      {loaded.state === 'loading' && <LoadingSpinner label="Loading calibration…" />}
      {loaded.state === 'error' && <ErrorView error={loaded.error} onRetry={reload} />}
      {loaded.state === 'ready' && <CalibrationBody view={loaded.data} client={client} busy={busy} act={act} />}
    </Flex>
  );
}

function CalibrationBody({
  view: { latest, result, schedule },
  client,
  busy,
  act,
}: {
  view: CalibrationView;
  client: BackendClient;
  busy: boolean;
  act: (work: () => Promise<string>) => Promise<void>;
}) {
  const running = latest?.state === 'running';
  const scheduleText = schedule.intervalHours === null ? 'Runs on demand only.' : `Runs every ${schedule.intervalHours} hours and on demand.`;
  return (
    <Flex direction="column" gap="sm">
      <Text variant="microcopy">
        {`HubSpot has no API that names a user's permission level, but it answers per record who may do what. Calibration asks about a few records per owner and infers each level from the answers, using at most ${Math.round(schedule.budgetShare * 100)}% of the account's HubSpot budget. ${scheduleText}`}
      </Text>
      {latest?.state === 'running' && (
        <ProgressBar
          title="Calibrating"
          value={latest.progress.done}
          maxValue={Math.max(latest.progress.total, 1)}
          valueDescription={`${latest.progress.done} of ${latest.progress.total} HubSpot calls`}
          showPercentage
        />
      )}
      {latest !== null && (latest.state === 'failed' || latest.state === 'interrupted') && (
        <Alert title={latest.state === 'failed' ? 'The last calibration failed' : 'The last calibration was interrupted'} variant="warning">
          {latest.error ?? ''}
        </Alert>
      )}
      <Button
        testId="run-calibration"
        disabled={running || busy}
        onClick={() => void act(async () => `Calibration started (run ${(await client.startCalibration()).id}).`)}
      >
        Run calibration now
      </Button>
      {result === null ? (
        <Text>No calibration has finished yet.</Text>
      ) : (
        <>
          <Heading>What HubSpot's answers show</Heading>
          <InferredTables result={result} />
          <Heading>Differences from the saved policy</Heading>
          <DriftTable
            result={result}
            adopting={busy}
            onAdopt={() =>
              void act(async () => {
                const adopted = await client.adoptCalibration(result.runId);
                return `HubSpot's levels saved as policy version ${adopted.version}.`;
              })
            }
          />
          <EvidenceExplorer result={result} />
        </>
      )}
    </Flex>
  );
}
