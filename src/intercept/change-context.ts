import { FlaggateError } from '../errors.js';
import type { RawRequest } from './raw-request.js';

/** Where a context value came from: the request's X-Flaggate-* header, or a claim of the verified token. */
export type ContextSource = 'header' | 'token';

/** Why and under what authority a change is made, from the X-Flaggate-* headers or the token. */
export interface ChangeContext {
  reason?: string;
  ticket?: string;
  /** Linked artifacts: X-Flaggate-Link-PR, -Build and -Experiment (the experiment the flag carries). */
  links: { pr?: string; build?: string; experiment?: string };
  /** X-Flaggate-Break-Glass: an emergency the requester declares; the policy decides whether it is granted. */
  breakGlass?: string;
  /** For each of reason and ticket that is set, where it came from. */
  sources?: { reason?: ContextSource; ticket?: ContextSource };
}

const maxLength = 1024;

/**
 * Reads the context headers. They travel in headers so the body reaches the platform byte for
 * byte; a value with control characters or over 1 KiB is refused rather than trimmed.
 */
export function readChangeContext(req: RawRequest): ChangeContext {
  const pick = (name: string): string | undefined => contextText(req.headers[name], `header ${name}`);
  const context: ChangeContext = { links: {} };
  const reason = pick('x-flaggate-reason');
  const ticket = pick('x-flaggate-ticket');
  const pr = pick('x-flaggate-link-pr');
  const build = pick('x-flaggate-link-build');
  const experiment = pick('x-flaggate-link-experiment');
  const breakGlass = pick('x-flaggate-break-glass');
  if (reason) context.reason = reason;
  if (ticket) context.ticket = ticket;
  if (reason || ticket) context.sources = { ...(reason ? { reason: 'header' as const } : {}), ...(ticket ? { ticket: 'header' as const } : {}) };
  if (pr) context.links.pr = pr;
  if (build) context.links.build = build;
  if (experiment) context.links.experiment = experiment;
  if (breakGlass) context.breakGlass = breakGlass;
  return context;
}

/**
 * A context value as recorded: trimmed, absent when blank. A value with control characters or over
 * 1 KiB is refused rather than trimmed; so is a non-string (a token claim of another type).
 */
export function contextText(raw: unknown, what: string): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw new FlaggateError('ADAPT_BODY_MALFORMED', `${what} must be text`);
  const value = raw.trim();
  if (value === '') return undefined;
  // eslint-disable-next-line no-control-regex
  if (value.length > maxLength || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `${what} must be printable text of at most ${maxLength} characters`);
  }
  return value;
}
