import { FlaggateError, httpStatus, type ErrorCode } from './errors.js';
import { printable } from './recorded-text.js';

/** One held change as `/v1/changes` lists it. */
export interface ChangeSummary {
  id: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  requester: { id: string; displayName: string; roles: string[] };
  action: string;
  platform: string;
  flagKey: string | null;
  environment: string | null;
  request: { method: string; path: string; bodySha256: string };
  reason: string | null;
  ticket: string | null;
  requiredApprovals: number;
  approverRoles: string[];
}

/** One held change in full, as `/v1/changes/ID` shows it. */
export interface ChangeDetail extends ChangeSummary {
  object: { kind: string; pointer: string };
  before: unknown;
  after: unknown;
  diff: Array<{ path: string; before: unknown; after: unknown }>;
  approvals: Array<{ approverId: string; roles: string[]; approvedAt: string; reason: string | null }>;
}

export type ChangesRequest =
  | { kind: 'list'; status?: string | undefined }
  | { kind: 'show'; id: string }
  | { kind: 'approve' | 'reject'; id: string; reason?: string | undefined };

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `/v1/changes` on a running sidecar's control port, as the holder of `token`. Throws the sidecar's
 * own error code when it refuses; an approval that was applied, failed or went stale is an answer.
 */
export async function requestChanges(controlUrl: string, token: string, request: ChangesRequest, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const base = controlUrl.replace(/\/+$/, '') + '/v1/changes';
  if (request.kind !== 'list' && !ID.test(request.id)) throw new FlaggateError('CHANGE_NOT_FOUND', 'a change request id is a UUID (see `flaggate changes list`)');
  const [method, url, body] =
    request.kind === 'list'
      ? ['GET', `${base}${request.status ? `?status=${encodeURIComponent(request.status)}` : ''}`, undefined]
      : request.kind === 'show'
        ? ['GET', `${base}/${request.id}`, undefined]
        : ['POST', `${base}/${request.id}/${request.kind}`, JSON.stringify(request.reason === undefined ? {} : { reason: request.reason })];
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reply = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  // A failed apply answers 502 with the change's outcome, not an error code.
  if (res.ok || (typeof reply.status === 'string' && typeof reply.code !== 'string')) return reply;
  const code = typeof reply.code === 'string' && Object.hasOwn(httpStatus, reply.code) ? (reply.code as ErrorCode) : 'INTERNAL';
  throw new FlaggateError(code, typeof reply.message === 'string' ? reply.message : `the control port answered ${res.status}`);
}

/** Rows as a plain text table: a header, a rule, columns padded to their widest cell. */
export function formatTable(header: string[], given: string[][]): string {
  const rows = given.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** `flaggate changes list`: one line per change. */
export function formatChangeList(changes: ChangeSummary[], now: number): string {
  if (changes.length === 0) return 'No change matches.\n';
  return formatTable(
    ['ID', 'FLAG', 'ENVIRONMENT', 'ACTION', 'REQUESTER', 'AGE', 'EXPIRES', 'NEEDS', 'STATUS'],
    changes.map((c) => [
      c.id,
      c.flagKey ?? '',
      c.environment ?? '',
      c.action,
      c.requester.id,
      age(now - Date.parse(c.createdAt)),
      c.expiresAt,
      `${c.requiredApprovals} of ${c.approverRoles.join('|') || 'any role'}`,
      c.status,
    ]),
  );
}

/** `flaggate changes show`: the facts, what changes (before, after, each difference), the approvals. */
export function formatChangeDetail(c: ChangeDetail): string {
  const facts: Array<[string, string]> = [
    ['id', c.id],
    ['status', c.status],
    ['flag', c.flagKey ?? ''],
    ['platform', c.platform],
    ['environment', c.environment ?? ''],
    ['action', c.action],
    ['requester', `${c.requester.displayName} (${c.requester.id}; ${c.requester.roles.join(', ')})`],
    ['requested', c.createdAt],
    ['expires', c.expiresAt],
    ['needs', `${c.requiredApprovals} approval(s) from ${c.approverRoles.join(', ') || 'any role'}`],
    ['reason', c.reason ?? ''],
    ['ticket', c.ticket ?? ''],
    ['request', `${c.request.method} ${c.request.path}`],
    ['body sha256', c.request.bodySha256],
    ['object', `${c.object.kind} at ${c.object.pointer || '/'}`],
  ];
  const width = Math.max(...facts.map(([k]) => k.length));
  const head = facts.map(([k, v]) => `${k.padEnd(width)}  ${printable(v)}`).join('\n') + '\n';
  const diff = c.diff.length === 0 ? 'No field differs.\n' : formatTable(['PATH', 'BEFORE', 'AFTER'], c.diff.map((d) => [d.path || '/', shown(d.before), shown(d.after)]));
  const approvals = c.approvals.length === 0 ? 'None yet.\n' : formatTable(['APPROVER', 'ROLES', 'WHEN', 'REASON'], c.approvals.map((a) => [a.approverId, a.roles.join(', '), a.approvedAt, a.reason ?? '']));
  return `${head}\nDifferences\n${diff}\nApprovals\n${approvals}`;
}

/** A side of a difference: its JSON, or `(absent)` where the member is not there (left out of the JSON answer). */
function shown(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

function age(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
}
