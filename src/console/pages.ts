import type { AffectedObject } from '../approvals/index.js';
import type { Approval, ChangeRequest } from '../approvals/index.js';
import type { BreakGlassSummary } from '../break-glass/index.js';
import { esc, json, time } from './html.js';

const KNOWN_ROLES = ['release_engineer', 'flag_admin', 'qa', 'product', 'auditor', 'incident_commander'];

/** The sign-in page: the development form (Name, Role) or a link that starts the OpenID Connect flow. */
export function signInBody(opts: { kind: 'development' | 'oidc' | 'none'; csrf?: string; message?: string }): string {
  const message = opts.message ? `<p class="notice" role="status">${esc(opts.message)}</p>` : '';
  if (opts.kind === 'oidc') return `${message}<p><a class="button" href="/console/sign-in/oidc">Sign in</a> with your organisation's identity provider.</p>`;
  if (opts.kind === 'none') return `${message}<p class="error">Sign-in is not configured: set <code>console.oidc</code>.</p>`;
  return `${message}<p class="notice">Development only. This signs you in as whoever you name, with the role you name, through the development issuer.</p>
<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
<label for="name">Name</label><input type="text" id="name" name="name" required maxlength="64" autocomplete="username">
<label for="role">Role</label><input type="text" id="role" name="role" required maxlength="64" list="roles">
<datalist id="roles">${KNOWN_ROLES.map((r) => `<option value="${r}">`).join('')}</datalist>
<button class="primary" type="submit">Sign in</button></form>`;
}

/** The home page: held changes waiting, then the ones decided lately. */
export function homeBody(changes: ChangeRequest[], now: number): string {
  const pending = changes.filter((c) => c.status === 'pending');
  const recent = changes.filter((c) => c.status !== 'pending').slice(-20).reverse();
  const row = (c: ChangeRequest) => {
    const expired = Date.parse(c.expiresAt) <= now;
    return `<tr><td><a href="/console/changes/${esc(c.id)}">${esc(c.change.flagKey)}</a></td><td>${esc(c.change.environment ?? '')}</td>
<td>${esc(c.change.action)}</td><td>${esc(c.requester.displayName)} (${esc(c.requester.id)})</td><td>${esc(age(now - Date.parse(c.createdAt)))}</td>
<td>${time(c.expiresAt)}${expired ? ' <span class="bad">expired</span>' : ''}</td><td>${c.requiredApprovals}</td><td>${esc(c.approverRoles.join(', '))}</td>
<td>${esc(c.context.reason ?? '')}</td><td class="status">${esc(c.status)}</td></tr>`;
  };
  const head = '<tr><th>Flag</th><th>Environment</th><th>Action</th><th>Requester</th><th>Age</th><th>Expires</th><th>Approvals needed</th><th>Approver roles</th><th>Reason</th><th>Status</th></tr>';
  const table = (rows: ChangeRequest[], empty: string) => (rows.length === 0 ? `<p>${empty}</p>` : `<table><thead>${head}</thead><tbody>${rows.map(row).join('')}</tbody></table>`);
  return `${table(pending, 'No change is waiting for approval.')}<h2>Recently decided</h2>${table(recent, 'Nothing decided yet.')}`;
}

export interface ChangeView {
  request: ChangeRequest;
  approvals: Approval[];
  object: AffectedObject;
  csrf: string;
  /** Why this person cannot approve, known before they click (the server refuses anyway). */
  cannotApprove: string[];
  error?: { code: string; message: string };
  done?: string;
}

/** One held change: what it touches before and after, the exact request, its reviews, the review form. */
export function changeBody(v: ChangeView): string {
  const { request: c, object: o } = v;
  const links = ['pr', 'build'].map((k) => c.headers[`x-flaggate-link-${k}`]).filter((x): x is string => x !== undefined);
  const error = v.error ? `<p class="error" role="alert"><strong>Refused (${esc(v.error.code)}):</strong> ${esc(v.error.message)}</p>` : '';
  const done = v.done ? `<p class="notice" role="status">${esc(v.done)}</p>` : '';
  const facts: Array<[string, string]> = [
    ['Status', `<span class="status" id="status">${esc(c.status)}</span>`],
    ['Flag', esc(c.change.flagKey)],
    ['Platform', esc(c.change.platform)],
    ['Environment', esc(c.change.environment ?? '')],
    ['Action', esc(c.change.action)],
    ['Requester', `${esc(c.requester.displayName)} (${esc(c.requester.id)}; ${esc(c.requester.roles.join(', '))})`],
    ['Requested', time(c.createdAt)],
    ['Expires', time(c.expiresAt)],
    ['Approvals needed', `${c.requiredApprovals} from ${esc(c.approverRoles.join(', ') || 'any role')}`],
    ['Reason', esc(c.context.reason ?? '')],
    ['Ticket', esc(c.context.ticket ?? '')],
    ['Links', links.map(esc).join('<br>')],
    ['Decision id', `<code>${esc(c.decisionId)}</code>`],
  ];
  const diff = o.diff.length === 0
    ? '<p>No field differs.</p>'
    : `<table><thead><tr><th>Path</th><th>Before</th><th>After</th></tr></thead><tbody>${o.diff
        .map((d) => `<tr><td><code>${esc(d.path || '/')}</code></td><td>${side(d.before)}</td><td>${side(d.after)}</td></tr>`)
        .join('')}</tbody></table>`;
  const given = v.approvals.length === 0
    ? '<p>None yet.</p>'
    : `<table><thead><tr><th>Approver</th><th>Roles</th><th>When</th><th>Reason</th></tr></thead><tbody>${v.approvals
        .map((a) => `<tr><td>${esc(a.approverId)}</td><td>${esc(a.roles.join(', '))}</td><td>${time(a.approvedAt)}</td><td>${esc(a.reason ?? '')}</td></tr>`)
        .join('')}</tbody></table>`;
  const review = c.status !== 'pending'
    ? ''
    : `<h2>Review</h2>${v.cannotApprove.map((why) => `<p class="notice">${esc(why)}</p>`).join('')}
<form method="post" action="/console/changes/${esc(c.id)}/review"><input type="hidden" name="csrf" value="${esc(v.csrf)}">
<label for="reason">Reason</label><textarea id="reason" name="reason" rows="2" maxlength="1024"></textarea>
<button class="primary" type="submit" name="verdict" value="approve">Approve</button><button type="submit" name="verdict" value="reject">Reject</button></form>`;
  return `${error}${done}<dl>${facts.map(([k, val]) => `<dt>${k}</dt><dd>${val}</dd>`).join('')}</dl>
<h2>What changes</h2><p>The ${esc(o.kind)} at <code>${esc(o.pointer || '/')}</code>.</p>
<div class="sides"><section><h3>Before</h3>${json(o.before)}</section><section><h3>After</h3>${json(o.after)}</section></div>
<h3>Differences</h3>${diff}${o.segments ? `<h3>Segments it serves through</h3><p>Whom they select, as read when the change was requested: a segment changed since makes the change stale.</p>${json(o.segments)}` : ''}
<h2>The request as it will be applied</h2><dl><dt>Method</dt><dd>${esc(c.method)}</dd><dt>Path</dt><dd><code>${esc(c.path)}</code></dd>
<dt>Body SHA-256</dt><dd><code>${esc(c.bodySha256)}</code></dd></dl>${json(bodyText(c.body))}
<h2>Approvals so far</h2>${given}${review}`;
}

/** Break-glass changes: the overdue reviews first, then the open ones, then the reviewed. */
export function breakGlassBody(changes: BreakGlassSummary[]): string {
  if (changes.length === 0) return '<p>No break-glass change.</p>';
  const rank = (c: BreakGlassSummary) => (c.overdue ? 0 : c.review === null ? 1 : 2);
  const rows = [...changes]
    .sort((a, b) => rank(a) - rank(b))
    .map((c) => {
      const status = c.overdue ? '<span class="bad">review overdue</span>' : c.review === null ? 'review open' : `reviewed by ${esc(c.review.by)}${c.review.late ? ' (late)' : ''}`;
      return `<tr data-id="${esc(c.id)}"><td>${time(c.at)}</td><td>${esc(c.flag_key)}</td><td>${esc(c.environment)}</td><td>${esc(c.requester)}</td><td>${esc(c.emergency)}</td>
<td>${esc(c.ticket)}</td><td>${esc(c.outcome)}</td><td>${c.review_due_at ? time(c.review_due_at) : ''}</td><td class="status">${status}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>Time</th><th>Flag</th><th>Environment</th><th>Requester</th><th>Emergency</th><th>Ticket</th><th>Outcome</th><th>Review due</th><th>Review</th></tr></thead><tbody>${rows}</tbody></table>
<p>A second person completes a review with <code>POST /v1/break-glass/ID/review</code> <code>{"reason": "…"}</code>.</p>`;
}

export function errorBody(code: string, message: string): string {
  return `<p class="error" role="alert"><strong>${esc(code)}:</strong> ${esc(message)}</p><p><a href="/console/">Back to the console</a></p>`;
}

function bodyText(body: Buffer): unknown {
  if (body.length === 0) return '(no body)';
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function age(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h` : `${Math.floor(h / 24)} d`;
}

/** One side of a difference: its JSON, or "(absent)" where the member is not there. */
function side(value: unknown): string {
  return value === undefined ? '<em>(absent)</em>' : json(value);
}
