import { FlaggateError } from '../errors.js';
import type { RawRequest } from './raw-request.js';

/** Why and under what authority a change is made, from the X-Flaggate-* headers. */
export interface ChangeContext {
  reason?: string;
  ticket?: string;
  links: { pr?: string; build?: string };
}

const maxLength = 1024;

/**
 * Reads the context headers. They travel in headers so the body reaches the platform byte for
 * byte; a value with control characters or over 1 KiB is refused rather than trimmed.
 */
export function readChangeContext(req: RawRequest): ChangeContext {
  const pick = (name: string): string | undefined => {
    const raw = req.headers[name];
    if (raw === undefined) return undefined;
    const value = raw.trim();
    if (value === '') return undefined;
    // eslint-disable-next-line no-control-regex
    if (value.length > maxLength || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new FlaggateError('ADAPT_BODY_MALFORMED', `header ${name} must be printable text of at most ${maxLength} characters`);
    }
    return value;
  };
  const context: ChangeContext = { links: {} };
  const reason = pick('x-flaggate-reason');
  const ticket = pick('x-flaggate-ticket');
  const pr = pick('x-flaggate-link-pr');
  const build = pick('x-flaggate-link-build');
  if (reason) context.reason = reason;
  if (ticket) context.ticket = ticket;
  if (pr) context.links.pr = pr;
  if (build) context.links.build = build;
  return context;
}
