import { FlaggateError, httpStatus, type ErrorCode } from '../errors.js';

export type DriftRequest = { kind: 'check' } | { kind: 'list'; open: boolean } | { kind: 'acknowledge'; id: string; reason: string; ticket?: string | undefined };

/**
 * Asks a running sidecar's control port (`/v1/drift`) for a check, the findings, or an
 * acknowledgement, as the holder of `token`. Throws the sidecar's own error code when it refuses.
 */
export async function requestDrift(controlUrl: string, token: string, request: DriftRequest, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const base = controlUrl.replace(/\/+$/, '') + '/v1/drift';
  const [method, url, body] =
    request.kind === 'check'
      ? ['POST', `${base}/check`, undefined]
      : request.kind === 'list'
        ? ['GET', `${base}${request.open ? '?open=true' : ''}`, undefined]
        : ['POST', `${base}/${encodeURIComponent(request.id)}/acknowledge`, JSON.stringify({ reason: request.reason, ...(request.ticket ? { ticket: request.ticket } : {}) })];
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reply = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.ok) return reply;
  const code = typeof reply.code === 'string' && Object.hasOwn(httpStatus, reply.code) ? (reply.code as ErrorCode) : 'INTERNAL';
  throw new FlaggateError(code, typeof reply.message === 'string' ? reply.message : `the control port answered ${res.status}`);
}
