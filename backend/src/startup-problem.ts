import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import { TokenKeyMismatchError } from './store/index.js';

/**
 * A start that fails for a reason outside the code (the port is taken, the database is unreachable or refuses us)
 * is told in one line that names the setting to change, instead of a stack trace. Anything else keeps its message.
 * Never echoes DATABASE_URL whole: it may hold a password.
 */
export function startupProblem(error: unknown, config: Pick<Config, 'port' | 'host' | 'databaseUrl'>): string {
  if (error instanceof TokenKeyMismatchError) {
    const installs = error.checked === 1 ? 'the stored install' : `any of the ${error.checked} stored installs`;
    return (
      `TOKEN_ENCRYPTION_KEYS: the configured key does not open ${installs} (they were sealed with another key); ` +
      'list that key after the new one (TOKEN_ENCRYPTION_KEYS=<new>,<old>) and start again, or if it is lost follow "Lost key" in the README'
    );
  }
  const code = errorCode(error);
  if (code === 'EADDRINUSE') return `PORT: ${config.port} is already in use on ${config.host}; stop what uses it or choose another port with PORT=...`;
  if (code === 'EACCES' && isListenError(error))
    return `PORT: this process may not listen on ${config.host}:${config.port}; choose a port above 1023 with PORT=...`;
  const database = describeDatabase(config.databaseUrl);
  switch (code) {
    case 'ECONNREFUSED':
      return `DATABASE_URL: nothing answers at ${database} (connection refused); start PostgreSQL or correct the host and port`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `DATABASE_URL: the host of ${database} cannot be found; correct the host name`;
    case 'ETIMEDOUT':
      return `DATABASE_URL: ${database} did not answer in time; check the host, port and firewall`;
    case '3D000':
      return `DATABASE_URL: ${database} does not exist; create it (createdb) or name an existing one`;
    case '28P01':
    case '28000':
      return `DATABASE_URL: PostgreSQL refused the login for ${database}; check the user name and password`;
    case '42501':
      return `DATABASE_URL: the user of ${database} may not create Viewer Guard's tables; grant it CREATE on the schema`;
    case 'SQLITE_CANTOPEN':
      if (onReadOnlyFileSystem(config.databaseUrl)) {
        return `DATABASE_URL: the file system holding ${database} is read-only, and SQLite cannot open its database there after a clean shutdown (it must create its -wal and -shm files); remount it read-write`;
      }
      return `DATABASE_URL: cannot open the SQLite file of ${database}; check the path and that this user may write there`;
    case 'SQLITE_READONLY':
      return `DATABASE_URL: the SQLite file of ${database} is read-only for this user`;
    default:
      return `Viewer Guard could not start: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (typeof current === 'object' && 'code' in current && typeof current.code === 'string') return current.code;
    // AggregateError (a host with several addresses) carries the real failures in `errors`.
    if (current instanceof AggregateError && current.errors.length > 0) current = current.errors[0];
    else current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

/** For a sqlite: URL: whether its folder is on a file system mounted read-only (access(2) says EROFS). */
function onReadOnlyFileSystem(url: string): boolean {
  if (!url.startsWith('sqlite:')) return false;
  try {
    accessSync(path.dirname(path.resolve(url.slice('sqlite:'.length))), constants.W_OK);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EROFS';
  }
}

function isListenError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'syscall' in error && error.syscall === 'listen';
}

/** Where the database is, without credentials: `PostgreSQL at host:port/db` or `sqlite:<file>`. */
function describeDatabase(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  try {
    const parsed = new URL(url);
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL does not parse as a URL)';
  }
}
