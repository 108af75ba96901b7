import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from './config.js';
import { startBackend, type RunningBackend } from './runtime.js';
import { startupProblem } from './startup-problem.js';

/** The production entry point (`npm start`): configured only by environment variables. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  let backend: RunningBackend;
  try {
    backend = await startBackend(config);
  } catch (error) {
    console.error(startupProblem(error, config));
    process.exit(1);
  }
  backend.app.log.info({ publicBaseUrl: config.publicBaseUrl, accessSource: config.accessSource }, 'Viewer Guard backend ready');
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) backend.app.log.error({ err }, 'shutting down after an error');
    else backend.app.log.info({ signal }, 'shutting down');
    await backend.close();
  });
}

await main();
