import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawRequest } from '../../src/intercept/raw-request.js';
import { readChangeContext, withTokenContext } from '../../src/intercept/index.js';

const paths = { reasonClaim: 'reason', ticketClaim: 'ctx.ticket' };

function req(headers: Record<string, string>): RawRequest {
  const body = Buffer.alloc(0);
  return { method: 'POST', path: '/x', headers, body, bodySha256: createHash('sha256').update(body).digest('hex') };
}

describe('change context from the token', () => {
  it('fills reason and ticket from the configured claims, saying so', () => {
    const got = withTokenContext(readChangeContext(req({})), { sub: 'ci', reason: ' nightly rollout ', ctx: { ticket: 'CHG-7' } }, paths);
    expect(got).toEqual({ reason: 'nightly rollout', ticket: 'CHG-7', links: {}, sources: { reason: 'token', ticket: 'token' } });
  });

  it('lets a header win over the claim, and records each source', () => {
    const got = withTokenContext(readChangeContext(req({ 'x-flaggate-reason': 'from the header' })), { reason: 'from the token', ctx: { ticket: 'T-1' } }, paths);
    expect(got).toEqual({ reason: 'from the header', ticket: 'T-1', links: {}, sources: { reason: 'header', ticket: 'token' } });
  });

  it('adds nothing when the token has no such claims', () => {
    expect(withTokenContext(readChangeContext(req({})), { sub: 'a', ticket: 'top-level, not the configured path' }, paths)).toEqual({ links: {} });
  });

  it('marks header values as from the header', () => {
    expect(readChangeContext(req({ 'x-flaggate-ticket': 'T-2' }))).toEqual({ ticket: 'T-2', links: {}, sources: { ticket: 'header' } });
  });

  it.each([
    { name: 'a number', value: 42 },
    { name: 'an object', value: { text: 'x' } },
    { name: 'control characters', value: 'a\u0000b' },
    { name: 'over 1 KiB', value: 'x'.repeat(1025) },
  ])('refuses a reason claim that is $name', ({ value }) => {
    expect(() => withTokenContext({ links: {} }, { reason: value }, paths)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it('does not alter the context it was given', () => {
    const context = { links: {} };
    withTokenContext(context, { reason: 'r' }, paths);
    expect(context).toEqual({ links: {} });
  });
});
