import { describe, expect, it } from 'vitest';
import { FlaggateError } from '../../src/errors.js';
import { denied, errorReply } from '../../src/pipeline/replies.js';
import type { Decision } from '../../src/policy/index.js';

const decision = {
  allow: false,
  reasons: ['role qa may not write in production', 'production writes require a reason (X-Flaggate-Reason)'],
  requiredApprovals: 0,
  approverRoles: [],
  policy: { revision: 'r', sha256: 'ab'.repeat(32) },
} as unknown as Decision;

describe('denied', () => {
  it('answers with the reasons and without a stack trace, and leaves stack traces on for the rest', async () => {
    const before = Error.stackTraceLimit;
    // Built deep in async work, as the pipeline builds it.
    const error = await (async () => {
      await Promise.resolve();
      return denied(decision);
    })();
    expect(error).toBeInstanceOf(FlaggateError);
    expect(error).toMatchObject({ code: 'POLICY_DENIED', status: 403, details: { reasons: decision.reasons } });
    expect(error.stack).toBe(`FlaggateError: ${decision.reasons.join('; ')}`);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new FlaggateError('INTERNAL', 'a fault').stack).toMatch(/\n\s+at /);
    const reply = errorReply(error, 'd-1');
    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ code: 'POLICY_DENIED', message: decision.reasons.join('; ') });
  });
});
