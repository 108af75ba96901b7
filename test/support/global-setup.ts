import { browserSkipReason, chromiumAvailable } from './browser.js';

/** Says up front which suites this run leaves out and how to include them, so a green run is never misread. */
export default function announceSkippedSuites(): void {
  if (process.env.TEST_DATABASE_URL === undefined) {
    console.log('\nnote: PostgreSQL suite skipped: set TEST_DATABASE_URL=postgres://... to run it (npm run test:postgres); SQLite runs always.');
  }
  if (!chromiumAvailable) console.log(`note: ${browserSkipReason}`);
}
