/** The pipeline: one request through the proxy port, and an approved held change back through it. */
export { handleRequest } from './handle-request.js';
export { resumeHeld } from './handle-change.js';
export { denied, errorReply } from './replies.js';
export type { ApprovalsHook, HeldWrite, Reply, Resume, ResumedChange, ResumeResult, Stages } from './stages.js';
