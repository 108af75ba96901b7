export { openDatabase, type Dialect, type StoreDatabase } from './database.js';
export { pingDatabase } from './health.js';
export {
  createInstallationStore,
  type Installation,
  type InstallationStatus,
  type InstallationStore,
  type NewInstallation,
  type RefreshedTokens,
} from './installations.js';
export type { Tables } from './schema.js';
export { TokenCipher, TokenDecryptionError } from './token-cipher.js';
