import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../support/free-port.js';

const run = promisify(execFile);

/**
 * A PostgreSQL server of the suite's own: initdb into a temporary directory, listening on a free loopback port, so a
 * scenario may stop, kill or restart it without touching the machine's shared server on 5432. Debian installs the
 * server binaries under /usr/lib/postgresql/<version>/bin; PostgreSQL refuses to run as root, so as root the server runs
 * as the `postgres` user.
 */
export interface OwnPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  port: number;
  dataDir: string;
  createDatabase(name: string): Promise<string>;
  /** `fast` ends sessions politely; `immediate` is a crash (recovery runs at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** SQL as the superuser on the `postgres` database, for faults such as pg_terminate_backend. */
  sql(text: string): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((version) => join(root, version, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
  if (found === undefined) throw new Error('own-postgres: no initdb under /usr/lib/postgresql/<version>/bin (Debian package postgresql)');
  return found;
}

const asRoot = userInfo().uid === 0;

async function asServerUser(command: string, args: string[]): Promise<void> {
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}

export async function startOwnPostgres(options: { parentDir?: string } = {}): Promise<OwnPostgres> {
  const bin = binDir();
  const dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'vg-own-pg-'));
  if (asRoot) {
    const { uid, gid } = await run('id', ['-u', 'postgres']).then(async ({ stdout }) => ({
      uid: Number(stdout.trim()),
      gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
    }));
    chownSync(dataDir, uid, gid);
  }
  const port = await freePort();
  await asServerUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const serverOptions = `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const pgCtl = (args: string[]) => asServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, ...args]);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const sql = async (text: string) => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  const start = () => pgCtl(['-o', serverOptions, '-l', join(dataDir, 'server.log'), '-w', '-t', '30', 'start']);
  await start();
  let running = true;
  return {
    url,
    port,
    dataDir,
    async createDatabase(name) {
      await sql(`create database ${name}`);
      return url(name);
    },
    async stop(mode = 'fast') {
      await pgCtl(['-m', mode, '-w', 'stop']);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    sql,
    async destroy() {
      if (running) await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      running = false;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
