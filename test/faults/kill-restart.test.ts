import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeHubSpot, loadSeed, type FakeHubSpot } from '../hubspot-fake/index.js';
import { TEST_APP } from '../support/harness.js';
import { cardRequest, installDirect, newTokenKey, startBackendProcess, type BackendProcess } from './support/backend-process.js';
import { FaultTally } from './support/tally.js';

const account = loadSeed().accounts[0]!;
const admin = account.users.find((user) => user.superAdmin)!;
const KILLS = 8;

/**
 * kill -9 of the backend on its embedded SQLite while card views are in flight, at random moments: after each restart
 * the install is still there and the card answers. (WAL keeps the file consistent through a crash mid-write.)
 */
describe('the backend killed with SIGKILL under load, on SQLite', () => {
  const tally = new FaultTally();
  let fake: FakeHubSpot;
  let dir: string;
  let backend: BackendProcess;

  beforeAll(async () => {
    fake = createFakeHubSpot({ app: TEST_APP });
    const fakeUrl = await fake.listen();
    dir = mkdtempSync(join(tmpdir(), 'vg-kill-'));
    const databaseUrl = `sqlite:${join(dir, 'viewer-guard.db')}`;
    const tokenKey = newTokenKey();
    // The schema exists once the first process has started; the install goes in after.
    backend = await startBackendProcess({ fakeUrl, databaseUrl, tokenKey });
    await installDirect({ databaseUrl, tokenKey, fake, portalId: account.portalId, userId: admin.id });
  });

  afterAll(async () => {
    await backend.kill();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
    tally.save();
  });

  it(`keeps the install and serves cards after ${KILLS} kills`, async () => {
    for (let kill = 0; kill < KILLS; kill += 1) {
      const load = Array.from({ length: 12 }, (_, index) =>
        cardRequest(backend, { path: `/api/v1/records/tickets/500${(index % 5) + 1}/access`, portalId: account.portalId, userId: admin.id }).then(
          (answer) => tally.answer(answer.status, answer.body, 'during load'),
          // A request cut off by the kill gets no answer at all: hubspot.fetch shows the card's own error.
          () => undefined,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 60)));
      await backend.kill('SIGKILL');
      tally.fault();
      await Promise.all(load);
      await backend.restart();
      const after = await cardRequest(backend, { path: '/api/v1/me', portalId: account.portalId, userId: admin.id });
      tally.answer(after.status, after.body, 'after restart');
      if (after.status !== 200) tally.installLost();
      expect(after.status, after.body).toBe(200);
    }
    expect(tally.undocumented).toEqual([]);
  });
});
