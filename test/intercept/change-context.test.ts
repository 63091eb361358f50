import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readChangeContext } from '../../src/intercept/index.js';

const request = (headers: Record<string, string>) => ({ method: 'POST', path: '/x', headers, body: Buffer.alloc(0), bodySha256: createHash('sha256').update('').digest('hex') });

describe('readChangeContext', () => {
  it('reads every link header and the break-glass reason', () => {
    const context = readChangeContext(
      request({ 'x-flaggate-link-pr': 'PR-1', 'x-flaggate-link-build': 'B-2', 'x-flaggate-link-experiment': ' EXP-3 ', 'x-flaggate-break-glass': 'checkout down', 'x-flaggate-ticket': 'INC-1' }),
    );
    expect(context).toMatchObject({ links: { pr: 'PR-1', build: 'B-2', experiment: 'EXP-3' }, breakGlass: 'checkout down', ticket: 'INC-1' });
  });

  it('leaves a blank break-glass header out: no emergency is declared', () => {
    expect(readChangeContext(request({ 'x-flaggate-break-glass': '   ', 'x-flaggate-link-experiment': '' }))).toEqual({ links: {} });
  });

  it.each(['x-flaggate-break-glass', 'x-flaggate-link-experiment'])('refuses %s with control characters or over 1 KiB', (name) => {
    expect(() => readChangeContext(request({ [name]: 'a\u0007b' }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    expect(() => readChangeContext(request({ [name]: 'x'.repeat(1025) }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });
});
