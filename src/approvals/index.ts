/** The approvals stage's only door: held changes, their review and the control routes. */
export { createApprovals, type Approvals, type ApprovalsDeps, type ApplyResult } from './service.js';
export type { ChangeStore, ChangeRequest, ChangeStatus, Approval } from './store.js';
export { openSqliteChangeStore } from './sqlite-store.js';
export { openPostgresChangeStore, type PostgresChangeStoreOptions } from './postgres-store.js';
export { migrateChangeTables } from './postgres-schema.js';
export { openChangeStoreFor, changeStoreKind } from './open-store.js';
export { createApprovalTokenVerifier, type VerifyApprovalToken, type ApprovalBinding } from './approval-token.js';
export { changeRoutes } from './routes.js';
export { affectedObject, diffStates, type AffectedObject, type StateDiff } from './diff.js';
export { personKey, samePerson } from './person.js';
