import { linkSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';
import { cardRequest, installDirect, newTokenKey, startBackendProcess, type BackendProcess } from './support/backend-process.js';
import { startOwnPostgres, type OwnPostgres } from './support/own-postgres.js';
import { FaultTally } from './support/tally.js';
import { mountSmallDisk, type SmallDisk } from './support/tmpfs.js';

const account = loadSeed().accounts[0]!;
const admin = account.users.find((user) => user.superAdmin && !user.deactivated)!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one answer said, reduced to what the scenario checks. */
interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  /** The body's retryAfter agrees with the Retry-After header (both present), or neither is there. */
  retryHint: 'given' | 'missing' | 'none';
}

function readAnswer(status: number, body: string, headers: Headers): Answer {
  let error: { code?: unknown; message?: unknown; retryAfter?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'object' && parsed.error !== null) error = parsed.error;
  } catch {
    // Not JSON: its code stays undefined, and a 5xx of it counts in the tally.
  }
  const header = headers.get('retry-after');
  const retryHint =
    typeof error.retryAfter === 'number' && header === String(error.retryAfter)
      ? 'given'
      : error.retryAfter === undefined && header === null
        ? 'none'
        : 'missing';
  return {
    status,
    code: typeof error.code === 'string' ? error.code : undefined,
    message: typeof error.message === 'string' ? error.message : undefined,
    retryHint,
  };
}

/**
 * Card traffic against every backend until stopped: views of the viewer (each reads the install and its token from the
 * database; the viewer's HubSpot profile is cached, so HubSpot is hardly called) and now and then a note (which writes,
 * and calls HubSpot a few times), a few at a time, kept well inside HubSpot's per-account rate limit so that every
 * failure seen is the database's. Every answer goes through the tally; a request that gets no answer at all (the process
 * is gone, or not listening) is counted apart, since it means a process exited.
 */
function cardLoad(tally: FaultTally, backends: BackendProcess[], what: string) {
  const answers: Answer[] = [];
  let unanswered = 0;
  let running = true;
  let sent = 0;
  const one = async (backend: BackendProcess) => {
    sent += 1;
    const request =
      sent % 50 === 0 ? ({ method: 'POST', path: '/api/v1/tickets/5001/notes', body: { body: `note ${sent}` } } as const) : { path: '/api/v1/me' };
    try {
      const response = await cardRequest(backend, { ...request, portalId: account.portalId, userId: admin.id });
      tally.answer(response.status, response.body, what);
      answers.push(readAnswer(response.status, response.body, response.headers));
    } catch {
      unanswered += 1;
    }
  };
  const workers = backends.flatMap((backend) =>
    Array.from({ length: 3 }, async () => {
      while (running) {
        await one(backend);
        await sleep(30);
      }
    }),
  );
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(workers);
      return { answers, unanswered };
    },
  };
}

/** `{ "200": 12, "503 DATABASE_UNAVAILABLE": 30 }`: what a phase's answers were, for the assertions' messages. */
const summary = (answers: Answer[]) =>
  answers.reduce<Record<string, number>>((counts, answer) => {
    const key = answer.status < 400 ? String(answer.status) : `${answer.status} ${answer.code ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

const me = (backend: BackendProcess) => cardRequest(backend, { path: '/api/v1/me', portalId: account.portalId, userId: admin.id });
const note = (backend: BackendProcess) =>
  cardRequest(backend, { method: 'POST', path: '/api/v1/tickets/5001/notes', portalId: account.portalId, userId: admin.id, body: { body: 'hello' } });

async function readyz(backend: BackendProcess): Promise<Answer> {
  const response = await fetch(`${backend.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return readAnswer(response.status, await response.text(), response.headers);
}

/** Polls until the card answers 200 again, without anyone restarting anything; how long it took, in ms. */
async function recovered(tally: FaultTally, backend: BackendProcess, what: string, withinMs = 20_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const answer = await me(backend).catch(() => undefined);
    if (answer !== undefined) tally.answer(answer.status, answer.body, what);
    if (answer?.status === 200) return Date.now() - started;
    if (Date.now() - started > withinMs)
      throw new Error(`${what}: no 200 within ${withinMs} ms (last: ${answer?.status ?? 'no answer'} ${answer?.body ?? ''})`);
    await sleep(200);
  }
}

/** The process printed this line and exited 1: the start-up refusal, read as an operator would. */
async function refusedAtStart(backend: BackendProcess, changes: Record<string, string>): Promise<string> {
  const before = backend.output().length;
  await expect(backend.restart(changes)).rejects.toThrow(/exited at start/);
  expect(await backend.exited()).toBe(1);
  const printed = backend.output().slice(before).trim().split('\n');
  return printed.at(-1) ?? '';
}

describe('database faults under two backend processes on PostgreSQL', () => {
  const tally = new FaultTally();
  let fake: FakeHubSpot;
  let postgres: OwnPostgres;
  let databaseUrl: string;
  let backends: [BackendProcess, BackendProcess];
  const firstKey = newTokenKey();

  beforeAll(async () => {
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    postgres = await startOwnPostgres();
    databaseUrl = await postgres.createDatabase('viewer_guard');
    backends = [
      await startBackendProcess({ fakeUrl, databaseUrl, tokenKey: firstKey }),
      await startBackendProcess({ fakeUrl, databaseUrl, tokenKey: firstKey }),
    ];
    await installDirect({ databaseUrl, tokenKey: firstKey, fake, portalId: account.portalId, userId: admin.id });
  });

  afterAll(async () => {
    for (const backend of backends) await backend.kill();
    await postgres.destroy();
    await fake.close();
    tally.save();
  });

  it.each(['fast', 'immediate'] as const)(
    'PostgreSQL stopped (%s) and started again under load: no process exits, the outage is 503 DATABASE_UNAVAILABLE with a retry hint, both recover',
    async (mode) => {
      const load = cardLoad(tally, backends, `outage (${mode})`);
      await sleep(500);
      const healthyCount = load.answers.length;
      await postgres.stop(mode);
      tally.fault();
      await sleep(1_500);
      const during = await Promise.all(backends.map(readyz));
      const outageAnswers = load.answers.slice(healthyCount);
      await postgres.start();
      const recovery = await Promise.all(backends.map((backend, index) => recovered(tally, backend, `recovery of backend ${index + 1}`)));
      const { answers, unanswered } = await load.stop();

      expect(backends.map((backend) => backend.alive())).toEqual([true, true]);
      expect(unanswered, 'requests that got no answer: a process went away').toBe(0);
      for (const ready of during) expect(ready).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      const refused = outageAnswers.filter((answer) => answer.status >= 500);
      expect(refused.length, JSON.stringify(summary(outageAnswers))).toBeGreaterThan(0);
      for (const answer of refused) expect(answer).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', retryHint: 'given' });
      expect(
        answers.filter((answer) => answer.status >= 500 && answer.code !== 'DATABASE_UNAVAILABLE'),
        JSON.stringify(summary(answers)),
      ).toEqual([]);
      for (const backend of backends) expect(await readyz(backend)).toMatchObject({ status: 200 });
      tally.line(
        `PostgreSQL stopped (${mode}) under two processes: ${refused.length} answers 503 DATABASE_UNAVAILABLE, back to 200 after ${Math.max(...recovery)} ms, no exit`,
      );
    },
  );

  it('every connection of both processes terminated at once (pg_terminate_backend) under load: no exit, back to 200', async () => {
    const load = cardLoad(tally, backends, 'terminated connections');
    await sleep(500);
    await postgres.sql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = 'viewer_guard' and pid <> pg_backend_pid()`);
    tally.fault();
    await sleep(1_000);
    const { answers, unanswered } = await load.stop();
    expect(backends.map((backend) => backend.alive())).toEqual([true, true]);
    expect(unanswered).toBe(0);
    expect(
      answers.filter((answer) => answer.status >= 500 && answer.code !== 'DATABASE_UNAVAILABLE'),
      JSON.stringify(summary(answers)),
    ).toEqual([]);
    for (const [index, backend] of backends.entries()) await recovered(tally, backend, `after termination, backend ${index + 1}`);
  });

  it('PostgreSQL turned read-only under load (as after a failover to a standby): reads go on, writes and /readyz 503 read-only, both recover', async () => {
    const load = cardLoad(tally, backends, 'read-only PostgreSQL');
    await sleep(500);
    // Every session, existing ones included, starts its next transaction read-only once the configuration is reloaded.
    await postgres.sql('alter system set default_transaction_read_only = on');
    await postgres.sql('select pg_reload_conf()');
    tally.fault();
    await sleep(1_500);
    const during = await Promise.all(backends.map(readyz));
    const writes = await Promise.all(backends.map(note));
    for (const write of writes) tally.answer(write.status, write.body, 'write on read-only PostgreSQL');
    await postgres.sql('alter system reset default_transaction_read_only');
    await postgres.sql('select pg_reload_conf()');
    await sleep(500);
    const { answers, unanswered } = await load.stop();

    expect(backends.map((backend) => backend.alive())).toEqual([true, true]);
    expect(unanswered).toBe(0);
    for (const ready of during) expect(ready).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/read-only/) });
    const refused = [...writes.map((write) => readAnswer(write.status, write.body, write.headers)), ...answers.filter((answer) => answer.status >= 500)];
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/read-only/), retryHint: 'given' });
    }
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    tally.line(`PostgreSQL read-only under two processes: ${refused.length} writes answered 503 DATABASE_UNAVAILABLE (read-only), reads served, no exit`);
    for (const backend of backends) {
      const written = await note(backend);
      tally.answer(written.status, written.body, 'write after read-only');
      expect(written.status).toBe(200);
      expect(await readyz(backend)).toMatchObject({ status: 200 });
    }
  });

  it('key changed at restart: refused in one line; rotated through TOKEN_ENCRYPTION_KEYS without losing the install', async () => {
    const [first, second] = backends;
    const newKey = newTokenKey();
    await second.kill();

    // A new key alone: nothing stored opens with it. One line, exit 1, the other process unaffected.
    const line = await refusedAtStart(second, { TOKEN_ENCRYPTION_KEY: newKey });
    tally.fault();
    expect(line).toMatch(/^TOKEN_ENCRYPTION_KEYS: the configured key does not open the stored install .*TOKEN_ENCRYPTION_KEYS=<new>,<old>/);
    expect(line).not.toContain(newKey);
    expect((await me(first)).status).toBe(200);

    // Both keys given as one would mistype it: refused in one line.
    const both = await refusedAtStart(second, { TOKEN_ENCRYPTION_KEY: newKey, TOKEN_ENCRYPTION_KEYS: `${newKey},${firstKey}` });
    expect(both).toMatch(/TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS: set only one/);

    // Rotation step taken out of order: this process seals with the new key while the first still knows only the old.
    await second.restart({ TOKEN_ENCRYPTION_KEY: '', TOKEN_ENCRYPTION_KEYS: `${newKey},${firstKey}` });
    expect((await me(second)).status).toBe(200);
    const stale = await me(first);
    tally.answer(stale.status, stale.body, 'old-key instance after the reseal');
    expect(readAnswer(stale.status, stale.body, stale.headers)).toMatchObject({ status: 503, code: 'ENCRYPTION_KEY_MISMATCH' });
    expect(await readyz(first)).toMatchObject({ status: 503, code: 'ENCRYPTION_KEY_MISMATCH' });

    // The procedure finished: every instance on [new, old], then on [new] alone.
    await first.kill();
    await first.restart({ TOKEN_ENCRYPTION_KEY: '', TOKEN_ENCRYPTION_KEYS: `${newKey},${firstKey}` });
    for (const backend of backends) expect((await me(backend)).status).toBe(200);
    for (const backend of backends) {
      await backend.kill();
      await backend.restart({ TOKEN_ENCRYPTION_KEYS: newKey });
    }
    for (const backend of backends) {
      const answer = await me(backend);
      tally.answer(answer.status, answer.body, 'after rotation');
      if (answer.status !== 200) tally.installLost();
      expect(answer.status).toBe(200);
      expect(await readyz(backend)).toMatchObject({ status: 200 });
    }
  });
});

describe('SQLite on a small disk that fills up, turns read-only, or loses its file', () => {
  const tally = new FaultTally();
  let fake: FakeHubSpot;
  let disk: SmallDisk;
  let backend: BackendProcess;
  let file: string;
  const tokenKey = newTokenKey();

  beforeAll(async () => {
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    disk = await mountSmallDisk(16 * 1024 * 1024);
    file = join(disk.dir, 'viewer-guard.db');
    backend = await startBackendProcess({ fakeUrl, databaseUrl: `sqlite:${file}`, tokenKey });
    await installDirect({ databaseUrl: `sqlite:${file}`, tokenKey, fake, portalId: account.portalId, userId: admin.id });
  });

  afterAll(async () => {
    await backend.kill();
    await disk.unmount();
    await fake.close();
    tally.save();
  });

  it('full disk: writes answer 503 DATABASE_UNAVAILABLE ("disk space"), reads go on, /readyz says so; all recover once there is room', async () => {
    expect((await note(backend)).status).toBe(200);
    disk.fill();
    tally.fault();
    const load = cardLoad(tally, [backend], 'full disk');
    const write = await note(backend);
    tally.answer(write.status, write.body, 'write on a full disk');
    await sleep(1_500);
    const ready = await readyz(backend);
    const { answers, unanswered } = await load.stop();
    disk.free();

    expect(backend.alive()).toBe(true);
    expect(unanswered).toBe(0);
    const refused = [readAnswer(write.status, write.body, write.headers), ...answers.filter((answer) => answer.status >= 500)];
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/disk space/), retryHint: 'given' });
    }
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    expect(ready).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/disk space/) });

    await recovered(tally, backend, 'after the disk was freed');
    const written = await note(backend);
    tally.answer(written.status, written.body, 'write after the disk was freed');
    expect(written.status).toBe(200);
    expect(await readyz(backend)).toMatchObject({ status: 200 });
    tally.line(`SQLite disk full: ${refused.length} writes answered 503 DATABASE_UNAVAILABLE (disk space), reads served, recovered without a restart`);
  });

  it('read-only disk: refused at start in one line after a clean shutdown; after a crash it serves reads and answers writes 503 read-only', async () => {
    // A disk cannot be remounted read-only while a process holds a file on it open for writing (EBUSY), so the backend
    // is stopped, the disk turned read-only, and the backend started on it, as after a host remounting a failing disk.
    await backend.kill('SIGTERM');
    await disk.readOnly();
    tally.fault();
    try {
      // After a clean shutdown SQLite removed its -wal and -shm files and cannot create them on a read-only disk.
      const line = await refusedAtStart(backend, {});
      expect(line).toMatch(/^DATABASE_URL: the file system holding sqlite:.* is read-only/);
    } finally {
      await disk.readWrite();
    }

    await backend.restart();
    await backend.kill('SIGKILL'); // a crash leaves the -wal and -shm files, with which SQLite can open a read-only disk
    await disk.readOnly();
    tally.fault();
    try {
      await backend.restart();
      const read = await me(backend);
      tally.answer(read.status, read.body, 'read on a read-only disk');
      expect(read.status).toBe(200);
      const write = await note(backend);
      tally.answer(write.status, write.body, 'write on a read-only disk');
      expect(readAnswer(write.status, write.body, write.headers)).toMatchObject({
        status: 503,
        code: 'DATABASE_UNAVAILABLE',
        message: expect.stringMatching(/read-only/),
        retryHint: 'given',
      });
      expect(await readyz(backend)).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/read-only/) });
      await backend.kill('SIGTERM');
    } finally {
      await disk.readWrite();
    }
    await backend.restart();
    const after = await note(backend);
    tally.answer(after.status, after.body, 'write after the disk is writable again');
    if ((await me(backend)).status !== 200) tally.installLost();
    expect(after.status).toBe(200);
  });

  it('file deleted under the running backend: refused as "deleted or replaced", nothing written to the unlinked file; served again once put back', async () => {
    // The test keeps a second name for the file, to see whether anything was written to it after the unlink.
    const keptLink = join(disk.dir, 'kept-link.db');
    linkSync(file, keptLink);
    const before = statSync(keptLink);
    const walBefore = statSync(`${file}-wal`, { throwIfNoEntry: false });
    unlinkSync(file);
    tally.fault();
    try {
      const load = cardLoad(tally, [backend], 'deleted file');
      await sleep(1_000);
      const ready = await readyz(backend);
      const { answers, unanswered } = await load.stop();

      expect(backend.alive()).toBe(true);
      expect(unanswered).toBe(0);
      expect(answers.length).toBeGreaterThan(0);
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.stringMatching(/deleted or replaced/), retryHint: 'given' });
      }
      expect(ready).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      // Not one byte went to the unlinked file or its WAL.
      const after = statSync(keptLink);
      expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
      const walAfter = statSync(`${file}-wal`, { throwIfNoEntry: false });
      expect([walAfter?.size, walAfter?.mtimeMs]).toEqual([walBefore?.size, walBefore?.mtimeMs]);
      tally.line(`SQLite file deleted under a running backend: ${answers.length} answers 503 DATABASE_UNAVAILABLE, nothing written to the unlinked file`);
    } finally {
      // The operator puts the very file back: served again without a restart.
      linkSync(keptLink, file);
      unlinkSync(keptLink);
    }
    await recovered(tally, backend, 'after the file was put back');
    expect(await readyz(backend)).toMatchObject({ status: 200 });
  });
});
