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
export { createPolicyStore, type PolicyStore, type StoredPolicy } from './policies.js';
export { createAuditLog, type AuditEntry, type AuditEntryInput, type AuditLog, type AuditOutcome, type AuditQuery } from './audit-log.js';
export { createWriteRequestStore, type WriteClaim, type WriteRequestStore } from './write-requests.js';
export { createOAuthStateStore, type OAuthStateStore } from './oauth-states.js';
