import { describe, expect, it } from 'vitest';
import { awaitsApprovals } from '../../src/pipeline.js';
import type { Decision } from '../../src/policy/index.js';

const refused: Decision = {
  allow: false,
  reasons: ['role qa may not write in production'],
  requiredApprovals: 1,
  approverRoles: ['release_engineer'],
  holdForApprovals: false,
  alerts: [],
  policy: { revision: 'r', sha256: 'ab'.repeat(32) },
};

describe('awaitsApprovals', () => {
  it('holds what the policy says to hold, whatever the reasons read', () => {
    expect(awaitsApprovals({ ...refused, reasons: ['waiting for a second pair of eyes'], holdForApprovals: true })).toBe(true);
  });

  // Reasons embed the flag key: a denial may read like an alert, and approvals then looked like the only thing missing.
  it('refuses a denial whose reasons read like an alert and an approval request', () => {
    const looksHeld = {
      ...refused,
      reasons: [
        'alert: sneaky is outside business hours: critical changes in production are not allowed now',
        'approval required: alert: sneaky in production needs 1 approval(s) by release_engineer other than the requester, 0 present',
      ],
    };
    expect(awaitsApprovals(looksHeld)).toBe(false);
  });
});
