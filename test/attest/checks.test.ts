import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAttestation, readControlMapping, type AttestInput } from '../../src/attest/index.js';
import type { AuditEntry } from '../../src/audit/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-attest-checks-');
afterAll(() => tmp.cleanup());

const period = { from: '2030-01-07T00:00:00.000Z', to: '2030-01-08T00:00:00.000Z' };
const mapping = readControlMapping();
let seq = 0;

/** An entry as the ledger holds it; tests override what they exercise. */
function entry(over: Partial<AuditEntry> & { at?: string }): AuditEntry {
  seq++;
  const { at, ...rest } = over;
  return {
    chain_id: 'local', seq, prev_hash: '0'.repeat(64), event_id: randomUUID(), entry_type: 'change.decision', decision_id: randomUUID(), change_request_id: null,
    timestamp_utc: at ?? `2030-01-07T10:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    actor: { id: 'rita', display_name: 'Rita', auth_method: 'jwt', roles: ['release_engineer'] },
    action: 'flag.enable', platform: 'flagd', project: null, flag_key: 'payments.checkout', environment: 'production', previous_state: null, new_state: null, reason: 'r',
    approval: { required: true, required_approvals: 1, approver_roles: ['release_engineer'], approved_by: ['sam'], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: 'CHG-1' },
    decision: { allow: true, reasons: ['ok'], error_code: null, policy_revision: 'sha256:abc', policy_sha256: 'a'.repeat(64) },
    request: { method: 'POST', path: '/x', body_sha256: 'b'.repeat(64) },
    outcome: null, unrecorded: null, hash: 'c'.repeat(64),
    ...rest,
  } as AuditEntry;
}

const attest = (entries: AuditEntry[], over: Partial<AttestInput> = {}) =>
  buildAttestation({ entries, period, source: { kind: 'ledger', chainId: 'local' }, verification: { ok: true, details: {}, failure: null }, criticalFlags: ['payments.*'], mapping, generatedAt: '2030-01-09T00:00:00.000Z', ...over });

describe('buildAttestation', () => {
  it.each([
    { name: 'no approver', approval: { approved_by: [] }, title: 'critical change without the required approvals' },
    { name: 'the requester as approver', approval: { approved_by: ['Rita '] }, title: 'critical change without the required approvals' },
    { name: 'one of two approvals', approval: { required_approvals: 2, approved_by: ['sam', 'SAM'] }, title: 'critical change without the required approvals' },
    { name: 'a change the policy said needed none, to a critical flag', approval: { required: false, required_approvals: 0, approved_by: [] }, title: 'critical change without the required approvals' },
  ])('reports $name under CC8.1', ({ approval, title }) => {
    const e = entry({});
    const r = attest([{ ...e, approval: { ...e.approval, ...approval } }]);
    expect(r.findings).toMatchObject([{ check: 'approvals_distinct', title, evidence: { seq: e.seq } }]);
    expect(r.findings[0]!.controls).toContain('SOC 2 CC8.1');
    expect(r.summary.result).toBe('exceptions');
  });

  it('finds nothing for approvals by distinct people, denied changes, and flags that are not critical', () => {
    const r = attest([entry({}), entry({ decision: { allow: false, reasons: ['no'], error_code: 'POLICY_DENIED', policy_revision: 'x', policy_sha256: 'a'.repeat(64) }, approval: { required: true, required_approvals: 1, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null } }), entry({ flag_key: 'search.v2', approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null } })]);
    expect(r.findings).toEqual([]);
    expect(r.critical_changes).toHaveLength(1);
  });

  it('reports an allowed change by the unauthenticated actor and an outcome applied after a denial', () => {
    const anon = entry({ flag_key: 'search.v2', actor: { id: 'unauthenticated', display_name: '', auth_method: 'none', roles: [] } });
    const deniedDecision = entry({ flag_key: 'search.v2', decision: { allow: false, reasons: ['no'], error_code: 'POLICY_DENIED', policy_revision: 'x', policy_sha256: 'a'.repeat(64) } });
    const applied = entry({ entry_type: 'change.outcome', decision_id: deniedDecision.decision_id, flag_key: 'search.v2', outcome: { status: 'applied', platform_status: 200, error_code: null, detail: null, response_sha256: null } });
    const r = attest([anon, deniedDecision, applied]);
    expect(r.findings.map((f) => [f.check, f.evidence.seq])).toEqual([['authorized_principal', anon.seq], ['authorized_principal', applied.seq]]);
    expect(r.findings[0]!.controls).toEqual(expect.arrayContaining(['SOC 2 CC6.1', 'SOC 2 CC6.2', 'ISO/IEC 27001:2022 A.5.15', 'ISO/IEC 27001:2022 A.5.18']));
  });

  it('lists drift with its resolution, and reports one left unacknowledged under CC7.2', () => {
    const drift = { source: 'file' as const, platform_event_id: null, platform_actor: null, platform_time: null, acknowledges: null };
    const acked = entry({ entry_type: 'drift.detected', drift });
    const open = entry({ entry_type: 'drift.detected', drift });
    // Acknowledged after the period: still its resolution.
    const ack = entry({ entry_type: 'drift.acknowledged', at: '2030-01-08T09:00:00.000Z', reason: 'hotfix by ops', actor: { id: 'sam', display_name: 'Sam', auth_method: 'jwt', roles: [] }, drift: { ...drift, acknowledges: acked.event_id } });
    const r = attest([acked, open, ack]);
    expect(r.drift.map((d) => d.resolution?.acknowledged_by ?? null)).toEqual(['sam', null]);
    expect(r.findings).toMatchObject([{ check: 'drift_resolved', evidence: { seq: open.seq } }]);
    expect(r.findings[0]!.controls).toEqual(expect.arrayContaining(['SOC 2 CC7.2', 'SOC 2 CC8.1', 'ISO/IEC 27001:2022 A.8.32']));
  });

  it('judges break-glass by its review: none past due, late, or by the requester is a finding; not yet due is not', () => {
    const glass = (due: string) => entry({ approval: { required: true, required_approvals: 1, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null }, break_glass: { reason: 'fire', granted: true, review_due_at: due, reviews: null, overdue: null } });
    const review = (of: AuditEntry, by: string, at: string) => entry({ entry_type: 'break_glass.reviewed', decision_id: of.decision_id, at, actor: { id: by, display_name: by, auth_method: 'jwt', roles: [] }, break_glass: { reason: 'fire', granted: true, review_due_at: of.break_glass!.review_due_at, reviews: of.decision_id, overdue: null } });
    const unreviewed = glass('2030-01-08T10:00:00.000Z');
    const notDue = glass('2030-01-10T10:00:00.000Z');
    const late = glass('2030-01-07T12:00:00.000Z');
    const own = glass('2030-01-08T10:00:00.000Z');
    const fine = glass('2030-01-08T10:00:00.000Z');
    const r = attest([unreviewed, notDue, late, own, fine, review(late, 'sam', '2030-01-07T13:00:00.000Z'), review(own, 'rita', '2030-01-07T13:00:00.000Z'), review(fine, 'sam', '2030-01-07T13:00:00.000Z')]);
    expect(r.findings.map((f) => [f.title, f.evidence.seq])).toEqual([
      ['break-glass change not reviewed in time', unreviewed.seq],
      ['break-glass change reviewed late', late.seq],
      ['break-glass change reviewed by its requester', own.seq],
    ]);
    expect(r.critical_changes.every((c) => c.ok)).toBe(true); // skipping approvals is judged by the review
    expect(r.break_glass).toHaveLength(5);
  });

  it('reports evidence that does not verify under CC7.2 and ISO A.8.15', () => {
    const r = attest([entry({})], { verification: { ok: false, details: {}, failure: { kind: 'modified', seq: 1, message: 'hash mismatch' } } });
    expect(r.findings).toMatchObject([{ check: 'evidence_integrity', evidence: { seq: 1 } }]);
    expect(r.findings[0]!.controls).toEqual(expect.arrayContaining(['SOC 2 CC7.2', 'ISO/IEC 27001:2022 A.8.15']));
  });

  it('takes a mapping extended with PCI DSS 4.0, and refuses one that names an unknown check', () => {
    const extended = { ...mapping, controls: [...mapping.controls, { framework: 'PCI DSS 4.0', id: '6.5', title: 'Changes are managed securely', checks: ['approvals_distinct'] }, { framework: 'PCI DSS 4.0', id: '10.2', title: 'Audit logs', checks: ['evidence_integrity'] }] };
    const file = join(tmp.dir, 'pci.json');
    writeFileSync(file, JSON.stringify(extended));
    const e = entry({});
    const r = attest([{ ...e, approval: { ...e.approval, approved_by: [] } }], { mapping: readControlMapping(file) });
    expect(r.findings[0]!.controls).toContain('PCI DSS 4.0 6.5');
    expect(r.controls.find((c) => c.id === '10.2')).toMatchObject({ result: 'no exceptions' });
    writeFileSync(file, JSON.stringify({ ...mapping, controls: [{ framework: 'X', id: '1', title: '', checks: ['approval_distinct'] }] }));
    expect(() => readControlMapping(file)).toThrow(/unknown checks approval_distinct/);
  });
});
