import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildBackend } from './app.js';
import type { Config } from './config.js';
import { loadOrCreateDevKey } from './dev-key.js';
import { loggerOptions } from './logging.js';
import { openDatabase } from './store/index.js';

export interface RunningBackend {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens the database (running migrations), wires the services and listens: shared by `npm start` and the demo. */
export async function startBackend(config: Config, options: { dataDir?: string } = {}): Promise<RunningBackend> {
  const logger = pino(loggerOptions(config.logLevel));
  const database = await openDatabase(config.databaseUrl, { log: logger });
  try {
    let keys = config.tokenEncryptionKeys;
    if (keys === undefined) {
      const dev = await loadOrCreateDevKey(options.dataDir ?? './data');
      keys = [dev.key];
      logger.warn(`TOKEN_ENCRYPTION_KEY is not set: using the local development key in ${dev.file}${dev.created ? ' (just generated)' : ''}`);
    }
    const app = await buildBackend({ config, database, tokenKeys: keys, logger, trustProxy: true, processMetrics: true });
    // Closed after the app, not in an onClose hook: Fastify runs onClose hooks last-added first, so a hook added here
    // would close the database before the app's own (its last jobs, the statistics' final flush) have run.
    const close = async () => {
      try {
        await app.close();
      } finally {
        await database.close();
      }
    };
    try {
      await app.listen({ port: config.port, host: config.host });
    } catch (error) {
      await app.close();
      throw error;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    return { app, url: `http://127.0.0.1:${port}`, close };
  } catch (error) {
    await database.close();
    throw error;
  }
}
