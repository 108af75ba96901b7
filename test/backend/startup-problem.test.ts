import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../backend/src/config.js';
import { startBackend } from '../../backend/src/runtime.js';
import { startupProblem } from '../../backend/src/startup-problem.js';

const config = { port: 3000, host: '0.0.0.0', databaseUrl: 'postgres://viewer:s3cret@db.internal:5433/guard' };
const withCode = (code: string, extra: object = {}) => Object.assign(new Error(`failure ${code}`), { code }, extra);

describe('a start that fails outside the code', () => {
  it.each([
    [withCode('EADDRINUSE', { syscall: 'listen' }), /^PORT: 3000 is already in use on 0\.0\.0\.0/],
    [withCode('ECONNREFUSED'), /^DATABASE_URL: nothing answers at PostgreSQL at db\.internal:5433\/guard/],
    [new AggregateError([withCode('ECONNREFUSED')], 'all addresses failed'), /^DATABASE_URL: nothing answers/],
    [withCode('3D000'), /^DATABASE_URL: .* does not exist/],
    [withCode('28P01'), /^DATABASE_URL: PostgreSQL refused the login/],
    [Object.assign(new Error('wrapped'), { cause: withCode('ENOTFOUND') }), /^DATABASE_URL: the host .* cannot be found/],
    [new Error('something else'), /^Viewer Guard could not start: something else$/],
  ])('is one line naming the setting: %s', (error, expected) => {
    const line = startupProblem(error, config);
    expect(line).toMatch(expected);
    expect(line).not.toContain('\n');
    expect(line).not.toContain('s3cret');
  });

  it('names the port when it is taken, through the real start', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const taken = loadConfig({
        HUBSPOT_CLIENT_ID: 'x',
        HUBSPOT_CLIENT_SECRET: 'y',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: 'sqlite::memory:',
        LOG_LEVEL: 'silent',
        TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
      });
      const failure = await startBackend(taken).then(
        async (backend) => {
          await backend.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(startupProblem(failure, taken)).toBe(`PORT: ${port} is already in use on 127.0.0.1; stop what uses it or choose another port with PORT=...`);
    } finally {
      blocker.close();
    }
  });
});
