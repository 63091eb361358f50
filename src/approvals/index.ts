/** The approvals stage's only door: held changes, their review and the control routes. */
export { createApprovals, type Approvals, type ApprovalsDeps, type ApplyResult } from './service.js';
export { openChangeStore, type ChangeStore, type ChangeRequest, type ChangeStatus, type Approval } from './store.js';
export { createApprovalTokenVerifier, type VerifyApprovalToken, type ApprovalBinding } from './approval-token.js';
export { changeRoutes } from './routes.js';
export { diffStates, type StateDiff } from './diff.js';
