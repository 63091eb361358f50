import type { AttestationReport } from './report.js';

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function table(head: string[], rows: unknown[][], empty: string): string {
  if (rows.length === 0) return `<p>${esc(empty)}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const counts = (title: string, t: Record<string, number>) =>
  `<h3>${esc(title)}</h3>${table([title, 'changes'], Object.entries(t).sort(([, a], [, b]) => b - a), 'none')}`;

/**
 * The human-readable page of an attestation: the same facts as attestation.json, which is what is
 * signed and what a verifier checks (the page's digest is signed beside it). No script, no remote content.
 */
export function attestationHtml(r: AttestationReport): string {
  const v = r.verification;
  const sections = [
    `<h1>flaggate attestation</h1><p>Chain <code>${esc(r.source.chain_id)}</code>, period ${esc(r.period.from)} to ${esc(r.period.to)} (end excluded), generated ${esc(r.generated_at)} from ${esc(r.source.kind === 'ledger' ? 'the ledger file' : 'an export package')}.</p>`,
    `<p class="${r.summary.result === 'no exceptions' ? 'ok' : 'bad'}" id="result">Result: <strong>${esc(r.summary.result)}</strong> (${r.summary.findings} findings: ${r.summary.high} high, ${r.summary.medium} medium, ${r.summary.low} low)</p>`,
    `<p id="verification">Chain, checkpoints and timestamps: <strong>${v.ok ? 'verified' : 'failed'}</strong>${v.failure ? `: ${esc(v.failure.kind)} at seq ${esc(v.failure.seq)}: ${esc(v.failure.message)}` : ''}</p>`,
    `<h2>Controls</h2>${table(['Framework', 'Control', 'Title', 'Checks', 'Result', 'Findings'], r.controls.map((c) => [c.framework, c.id, c.title, c.checks.join(', '), c.result, c.findings.join(', ')]), 'no controls mapped')}`,
    `<h2>Findings</h2>${table(['Id', 'Severity', 'Finding', 'Detail', 'Controls'], r.findings.map((f) => [f.id, f.severity, f.title, f.detail, f.controls.join(', ')]), 'No findings.')}`,
    `<h2>Changes to critical flags</h2>${table(['Seq', 'Time', 'Flag', 'Environment', 'Action', 'Requester', 'Approved by', 'Required', 'Break-glass', 'Outcome', 'Approvals hold'], r.critical_changes.map((c) => [c.seq, c.at, c.flag_key, c.environment, c.action, c.requester, c.approved_by.join(', '), c.required_approvals, c.break_glass ? 'yes' : '', c.outcome, c.ok ? 'yes' : 'NO']), 'none in the period')}`,
    `<h2>Break-glass</h2>${table(['Seq', 'Time', 'Flag', 'Environment', 'Requester', 'Emergency', 'Ticket', 'Outcome', 'Review due', 'Reviewed by', 'Reviewed at'], r.break_glass.map((b) => [b.seq, b.at, b.flag_key, b.environment, b.requester, b.emergency, b.ticket, b.outcome, b.review_due_at, b.review?.by ?? 'not reviewed', b.review ? `${b.review.at}${b.review.late ? ' (late)' : ''}` : '']), 'none in the period')}`,
    `<h2>Drift</h2>${table(['Seq', 'Detected', 'Platform', 'Flag', 'Source', 'Platform event', 'Platform actor', 'Acknowledged by', 'Reason'], r.drift.map((d) => [d.seq, d.detected_at, d.platform, d.flag_key, d.source, d.platform_event_id, d.platform_actor, d.resolution?.acknowledged_by ?? 'not acknowledged', d.resolution?.reason]), 'none in the period')}`,
    `<h2>Changes to flags that carry experiments</h2>${table(['Flag', 'Experiments', 'Seq', 'Time', 'Action', 'Environment', 'Actor', 'Outcome'], r.experiments.flatMap((x) => x.changes.map((c) => [x.flag_key, x.experiments.join(', '), c.seq, c.at, c.action, c.environment, c.actor, c.outcome])), 'none in the period')}`,
    `<h2>Policy revisions in force</h2>${table(['Revision', 'SHA-256', 'Decisions', 'First', 'Last'], r.policy_revisions.map((p) => [p.revision, p.sha256, p.decisions, p.first_seen, p.last_seen]), 'no decisions in the period')}`,
    `<h2>Counts</h2>${counts('flag', r.counts.by_flag)}${counts('environment', r.counts.by_environment)}${counts('actor', r.counts.by_actor)}${counts('outcome', r.counts.by_outcome)}`,
    '<p>Verify offline: <code>flaggate attest verify DIR --keys KEYS.jwks.json</code> (pin the checkpoint keys you were given).</p>',
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flaggate attestation ${esc(r.period.from)} to ${esc(r.period.to)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}.ok{color:#176a2a}.bad{color:#a31515}code{font-size:90%}</style></head>
<body>${sections.join('\n')}</body></html>
`;
}
