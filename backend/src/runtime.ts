import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { loadOrCreateDevKey } from './dev-key.js';
import { loggerOptions } from './logging.js';
import { createServices } from './services.js';
import { createAuditLog, createInstallationStore, createOAuthStateStore, createPolicyStore, openDatabase, pingDatabase, TokenCipher } from './store/index.js';

const AUDIT_PURGE_INTERVAL_MS = 6 * 60 * 60 * 1000;

export interface RunningBackend {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens the database (running migrations), wires the services and listens: shared by `npm start` and the demo. */
export async function startBackend(config: Config, options: { dataDir?: string } = {}): Promise<RunningBackend> {
  const database = await openDatabase(config.databaseUrl);
  try {
    let key = config.tokenEncryptionKey;
    const notes: string[] = [];
    if (key === undefined) {
      const dev = await loadOrCreateDevKey(options.dataDir ?? './data');
      key = dev.key;
      notes.push(`TOKEN_ENCRYPTION_KEY is not set: using the local development key in ${dev.file}${dev.created ? ' (just generated)' : ''}`);
    }
    const installations = createInstallationStore(database.db, new TokenCipher(key), database.dialect);
    const logger = pino(loggerOptions(config.logLevel));
    for (const note of notes) logger.warn(note);
    const audit = createAuditLog(database.db);
    const deps = createServices({
      config,
      installations,
      oauthStates: createOAuthStateStore(database.db),
      policies: createPolicyStore(database.db),
      audit,
      pingDatabase: () => pingDatabase(database.db),
      log: logger,
    });
    const app = await buildApp(deps, { logger, trustProxy: true });
    // Audit retention: purge at start, then every few hours; the timer never keeps the process alive.
    const purge = async () => {
      try {
        const removed = await audit.purgeOlderThan(new Date(Date.now() - config.auditRetentionMs));
        if (removed > 0) logger.info({ removed }, 'audit entries past retention deleted');
      } catch (error) {
        logger.error({ err: error }, 'audit retention purge failed');
      }
    };
    await purge();
    const retention = setInterval(() => void purge(), AUDIT_PURGE_INTERVAL_MS).unref();
    app.addHook('onClose', async () => {
      clearInterval(retention);
      await database.close();
    });
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
  } catch (error) {
    await database.close();
    throw error;
  }
}
