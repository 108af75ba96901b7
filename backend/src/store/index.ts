export { openDatabase, type StoreDatabase } from './database.js';
export { pingDatabase } from './health.js';
export type { Installation, InstallationStatus, NewInstallation, RefreshedTokens } from './installation-row.js';
export { createInstallationStore, type InstallationStore } from './installations.js';
export type { Dialect, Tables } from './schema.js';
export { TokenCipher, TokenDecryptionError } from './token-cipher.js';
export { createPolicyStore, type PolicyStore, type StoredPolicy } from './policies.js';
export { createAuditLog, type AuditEntry, type AuditEntryInput, type AuditLog, type AuditOutcome, type AuditQuery } from './audit-log.js';
