import type { AuditEntry, Checkpoint, CoverageSummary, EntrySearch, UpstreamSummary, VerifyReport } from '../audit/index.js';
import { OUTCOME_FILTERS } from '../audit/index.js';
import { esc, json, time } from './html.js';

/** The RFC 3161 token found to cover an entry (after the fact: it is not inside the hashed entry). */
export interface CoveringToken {
  token_id: number;
  covers_seq: number;
  gen_time: string;
  tsa: string;
}

export type ShownEntry = AuditEntry & { covered_by?: CoveringToken | null };

/** A stored row whose body is not an entry (edited behind the ledger's back): shown, never hidden. */
export interface UnreadableRow {
  seq: number;
  hash: string;
  prev_hash: string;
  /** The start of what is stored instead. */
  unreadable: string;
}

export type LogRow = ShownEntry | UnreadableRow;

export const isReadable = (row: LogRow): row is ShownEntry => !('unreadable' in row);

/** The local verification as the control port runs it: the chain, and the parts beside it. */
export type LocalVerifyReport = VerifyReport & { timestamps?: CoverageSummary | null; upstream?: readonly UpstreamSummary[] };

/** The log's filters as the form holds them: the search's fields, but dates are whole UTC days, `to` included. */
export type LogFilters = EntrySearch;

export interface LogView {
  verification: { report: LocalVerifyReport; checkedAt: string };
  filters: LogFilters;
  entries: LogRow[];
  older?: string;
  newer?: string;
  csrf: string;
  mayExport: boolean;
}

const FILTER_FIELDS: Array<[keyof LogFilters, string]> = [
  ['flag', 'Flag'],
  ['environment', 'Environment'],
  ['actor', 'Actor'],
  ['action', 'Action'],
];

/** The verification status: each part, and "verified" only when every part holds. */
export function verificationBlock(report: LocalVerifyReport, checkedAt: string, csrf: string): string {
  const failure = report.failure;
  const checkpointKinds = new Set(['bad_signature', 'unknown_key']);
  const upstreamApart = (report.upstream ?? []).filter((u) => !u.ok);
  const chainFailed = failure !== undefined && failure.code === 'AUDIT_CHAIN_BROKEN' && !checkpointKinds.has(failure.kind) && upstreamApart.length === 0;
  const parts: Array<[string, boolean | null, string]> = [
    ['Chain', !chainFailed, `${report.entries} entries, head ${report.head.seq}`],
    ['Checkpoints', !(failure && checkpointKinds.has(failure.kind)), `${report.trustedHeads} trusted heads checked`],
    ['Timestamps', report.timestamps === undefined || report.timestamps === null ? null : report.timestamps.ok, timestampDetail(report.timestamps)],
    ['Upstream', upstreamApart.length === 0, (report.upstream ?? []).map((u) => `${u.sink}: ${u.ok ? 'in step' : u.message}`).join('; ') || 'no upstream copy configured'],
  ];
  const word = report.ok ? '<span class="ok" id="verification">verified</span>' : '<span class="bad" id="verification">failed</span>';
  const rows = parts
    .map(([name, ok, detail]) => `<tr><th scope="row">${name}</th><td>${ok === null ? 'not checked' : ok ? '<span class="ok">holds</span>' : '<span class="bad">fails</span>'}</td><td>${esc(detail)}</td></tr>`)
    .join('');
  const why = failure ? `<p class="error" role="alert"><strong>${esc(failure.code)} (${esc(failure.kind)}) at seq ${failure.seq}:</strong> ${esc(failure.message)}</p>` : '';
  return `<section aria-labelledby="verification-heading"><h2 id="verification-heading">Verification</h2>
<p>The log is ${word}. Last checked ${time(checkedAt)} (<span id="checked-at">${esc(checkedAt)}</span>).</p>${why}
<table><thead><tr><th>Part</th><th>Status</th><th>Detail</th></tr></thead><tbody>${rows}</tbody></table>
<form method="post" action="/console/audit/verify" class="inline"><input type="hidden" name="csrf" value="${esc(csrf)}"><button type="submit">Check again</button></form></section>`;
}

function timestampDetail(ts: CoverageSummary | null | undefined): string {
  if (!ts) return '';
  if (ts.failures[0]) return `${ts.failures[0].code}: ${ts.failures[0].message}`;
  return ts.uncoveredFrom ? `entries from seq ${ts.uncoveredFrom} not covered yet` : 'every entry covered by a token';
}

/** The log page: verification, the filter form, a page of entries, the export button. */
export function logBody(v: LogView): string {
  const f = v.filters;
  const fields = FILTER_FIELDS.map(([key, label]) => `<div><label for="f-${key}">${label}</label><input type="text" id="f-${key}" name="${key}" value="${esc(f[key] ?? '')}" maxlength="256"></div>`).join('');
  const outcome = `<div><label for="f-outcome">Outcome</label><select id="f-outcome" name="outcome"><option value="">any</option>${OUTCOME_FILTERS.map(
    (o) => `<option value="${o}"${f.outcome === o ? ' selected' : ''}>${o.replace('_', ' ')}</option>`,
  ).join('')}</select></div>`;
  const period = `<div><label for="f-from">From (UTC day)</label><input type="date" id="f-from" name="from" value="${esc(f.from ?? '')}"></div>
<div><label for="f-to">To (UTC day, included)</label><input type="date" id="f-to" name="to" value="${esc(f.to ?? '')}"></div>`;
  const form = `<form method="get" action="/console/audit" class="filters" role="search" aria-label="Filter the log">${fields}${outcome}${period}<div><button class="primary" type="submit">Filter</button> <a href="/console/audit">Clear</a></div></form>`;
  const pager = `<nav class="pager" aria-label="Pages">${v.newer ? `<a href="${esc(v.newer)}">Newer entries</a>` : ''}${v.older ? `<a href="${esc(v.older)}">Older entries</a>` : ''}</nav>`;
  const table = v.entries.length === 0 ? '<p>No entry matches.</p>' : entriesTable(v.entries);
  return `${verificationBlock(v.verification.report, v.verification.checkedAt, v.csrf)}<h2>Entries</h2>${form}${table}${pager}${v.mayExport ? exportForm(f, v.csrf) : ''}`;
}

/** The export button: the package for the filtered period, which `flaggate verify-export` checks offline. */
function exportForm(f: LogFilters, csrf: string): string {
  const hidden = (['flag', 'environment', 'actor', 'action', 'from', 'to'] as const)
    .filter((k) => f[k] !== undefined)
    .map((k) => `<input type="hidden" name="${k}" value="${esc(f[k])}">`)
    .join('');
  const note = f.outcome ? ' The outcome filter is not a package filter: the package holds every outcome.' : '';
  return `<h2>Export</h2><p>The export package holds the entries of the filtered period with the chain, checkpoints, keys and timestamp tokens that prove them; <code>flaggate verify-export</code> checks it offline.${note}</p>
<form method="post" action="/console/audit/export"><input type="hidden" name="csrf" value="${esc(csrf)}">${hidden}<button class="primary" type="submit">Download export package</button></form>`;
}

/** Entries as rows, each linked to its own page. */
export function entriesTable(entries: LogRow[]): string {
  const rows = entries
    .map((e) => {
      if (!isReadable(e)) {
        return `<tr><td><a href="/console/audit/entries/${e.seq}" aria-label="Entry ${e.seq}">${e.seq}</a></td><td colspan="8" class="bad">unreadable: the stored body is not an audit entry</td><td><code>${esc(e.hash.slice(0, 12))}…</code></td></tr>`;
      }
      const outcome = e.outcome?.status ?? (e.entry_type === 'change.decision' ? (e.decision.allow ? 'allowed' : 'denied') : '');
      return `<tr><td><a href="/console/audit/entries/${e.seq}" aria-label="Entry ${e.seq}">${e.seq}</a></td><td>${time(e.timestamp_utc)}</td><td>${esc(e.entry_type)}</td>
<td>${esc(e.actor.id)}</td><td>${esc(e.action)}</td><td>${e.flag_key ? `<a href="/console/audit/flags/${encodeURIComponent(e.flag_key)}">${esc(e.flag_key)}</a>` : ''}</td>
<td>${esc(e.platform)}</td><td>${esc(e.environment)}</td><td>${esc(outcome)}</td><td><code>${esc(e.hash.slice(0, 12))}…</code></td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>Seq</th><th>Time</th><th>Type</th><th>Actor</th><th>Action</th><th>Flag</th><th>Platform</th><th>Environment</th><th>Outcome</th><th>Hash</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export interface EntryView {
  entry: LogRow;
  hasNext: boolean;
  checkpoint?: Checkpoint;
  /** Whether the checkpoint's signature verifies with this sidecar's keys, and with which key. */
  checkpointSignature?: { ok: boolean; detail: string };
}

/** One entry: every field, its hash and links, the token and the checkpoint that cover it. */
export function entryBody(v: EntryView): string {
  const { entry: e } = v;
  const neighbours = `<nav class="pager" aria-label="Chain neighbours">${e.seq > 1 ? `<a href="/console/audit/entries/${e.seq - 1}" rel="prev">Previous entry (seq ${e.seq - 1})</a>` : '<span>First entry of the chain</span>'}${
    v.hasNext ? `<a href="/console/audit/entries/${e.seq + 1}" rel="next">Next entry (seq ${e.seq + 1})</a>` : '<span>Newest entry</span>'
  }</nav>`;
  const chain = `<dl><dt>Hash</dt><dd><code id="entry-hash">${esc(e.hash)}</code></dd><dt>Previous hash</dt><dd><code>${esc(e.prev_hash)}</code></dd>
<dt>Computed as</dt><dd>SHA-256(previous hash ‖ RFC 8785 canonical JSON of the fields below)</dd></dl>`;
  if (!isReadable(e)) {
    return `${neighbours}<h2>In the chain</h2>${chain}<p class="error" role="alert">The stored body of this row is not an audit entry: it was changed outside the ledger, and the chain does not verify here.</p>
<h2>What is stored</h2><pre>${esc(e.unreadable)}</pre>`;
  }
  const { covered_by: token, hash: _hash, ...fields } = e;
  const tokenPart = token
    ? `<dl id="timestamp-token"><dt>Token</dt><dd>#${token.token_id}</dd><dt>Covers</dt><dd>the chain up to <a href="/console/audit/entries/${token.covers_seq}">seq ${token.covers_seq}</a> (and so this entry, by the chain)</dd>
<dt>Time of the token</dt><dd>${time(token.gen_time)}</dd><dt>Authority</dt><dd>${esc(token.tsa)}</dd></dl>`
    : '<p id="timestamp-token" class="notice">No RFC 3161 token covers this entry yet.</p>';
  const cp = v.checkpoint;
  const cpPart = cp
    ? `<dl id="checkpoint"><dt>Checkpoint</dt><dd>at <a href="/console/audit/entries/${cp.seq}">seq ${cp.seq}</a></dd><dt>Head hash</dt><dd><code>${esc(cp.hash)}</code></dd>
<dt>Signed</dt><dd>${time(cp.time)} with key <code>${esc(cp.kid)}</code></dd><dt>Signature</dt><dd>${v.checkpointSignature ? `<span class="${v.checkpointSignature.ok ? 'ok' : 'bad'}">${esc(v.checkpointSignature.detail)}</span>` : ''}</dd>
<dt>JWS</dt><dd><code>${esc(cp.jws)}</code></dd></dl>`
    : '<p id="checkpoint" class="notice">No signed checkpoint covers this entry yet.</p>';
  const rows = Object.entries(fields)
    .map(([k, val]) => `<tr><th scope="row"><code>${esc(k)}</code></th><td>${val !== null && typeof val === 'object' ? json(val) : k === 'timestamp_utc' ? time(String(val)) : esc(val === null ? 'null' : val)}</td></tr>`)
    .join('');
  const flag = e.flag_key ? `<p><a href="/console/audit/flags/${encodeURIComponent(e.flag_key)}">Timeline of ${esc(e.flag_key)}</a></p>` : '';
  return `${neighbours}<h2>In the chain</h2>${chain}<h2>Timestamp token</h2>${tokenPart}<h2>Checkpoint</h2>${cpPart}${flag}
<h2>Every field</h2><table><thead><tr><th>Field</th><th>Value</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Every entry about one flag, oldest first, across platforms. */
export function timelineBody(flag: string, entries: ShownEntry[], older?: string, newer?: string): string {
  if (entries.length === 0) return `<p>No entry names the flag ${esc(flag)}.</p>`;
  const items = entries
    .map((e) => {
      const outcome = e.outcome ? ` → <strong>${esc(e.outcome.status)}</strong>` : e.entry_type === 'change.decision' ? ` → ${e.decision.allow ? 'allowed' : '<strong>denied</strong>'}` : '';
      return `<li>${time(e.timestamp_utc)} <a href="/console/audit/entries/${e.seq}">${esc(e.entry_type)}</a>: ${esc(e.action)} on ${esc(e.platform)}${e.environment ? ` / ${esc(e.environment)}` : ''} by ${esc(e.actor.id)}${outcome}${e.reason ? ` — “${esc(e.reason)}”` : ''}</li>`;
    })
    .join('');
  const pager = `<nav class="pager" aria-label="Pages">${older ? `<a href="${esc(older)}">Earlier</a>` : ''}${newer ? `<a href="${esc(newer)}">Later</a>` : ''}</nav>`;
  return `<p>Every entry that names <code>${esc(flag)}</code>, on every platform, oldest first. <a href="/console/audit?flag=${encodeURIComponent(flag)}">Filter the log by this flag</a>.</p>${pager}<ol class="timeline">${items}</ol>${pager}`;
}
