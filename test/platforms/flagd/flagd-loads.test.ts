import { describe, expect, it } from 'vitest';
import { assertFlagdDefinition, assertFlagdLoads } from '../../../src/platforms/flagd/flagd-loads.js';
import type { FlagDefinition, FlagFile } from '../../../src/platforms/flagd/index.js';

const flag: FlagDefinition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
const withTargeting = (targeting: Record<string, unknown>): FlagDefinition => ({ ...flag, targeting });
const file = (flags: Record<string, FlagDefinition>, extra: Record<string, unknown> = {}): FlagFile => ({ flags, ...extra });
const isAdmin = { $ref: 'isAdmin' };

// Each case is held against flagd-core, the evaluator OpenFeature's flagd providers run.
describe('assertFlagdLoads', () => {
  it.each([
    { name: 'a plain boolean flag', input: file({ a: flag }) },
    { name: 'an if rule on a context field', input: file({ a: withTargeting({ if: [{ '==': [{ var: 'email' }, 'ada@example.com'] }, 'on', 'off'] }) }) },
    { name: 'a fractional rollout', input: file({ a: withTargeting({ fractional: [['on', 25], ['off', 75]] }) }) },
    { name: 'a fractional rollout bucketed by a field', input: file({ a: withTargeting({ fractional: [{ var: 'email' }, ['on', 50], ['off', 50]] }) }) },
    { name: 'sem_ver, starts_with and ends_with', input: file({ a: withTargeting({ if: [{ and: [{ sem_ver: [{ var: 'v' }, '>=', '1.0.0'] }, { starts_with: [{ var: 'email' }, 'a'] }, { ends_with: [{ var: 'email' }, '.com'] }] }, 'on', 'off'] }) }) },
    { name: 'a $ref the file defines', input: file({ a: withTargeting({ if: [isAdmin, 'on', 'off'] }) }, { $evaluators: { isAdmin: { ends_with: [{ var: 'email' }, '@example.com'] } } }) },
  ])('accepts $name', ({ input }) => {
    expect(() => assertFlagdLoads(input, { targeting: true })).not.toThrow();
  });

  it.each([
    { name: 'variants of two types', input: file({ a: { ...flag, variants: { on: true, off: 'no' } } }), issue: /\/flags\/a\/variants\/off/ },
    { name: 'an unknown targeting operator', input: file({ a: withTargeting({ no_such_op: [1] }) }), issue: /\/flags\/a\/targeting/ },
    { name: 'a fractional rule that is not a list', input: file({ a: withTargeting({ fractional: 'half' }) }), issue: /\/flags\/a\/targeting/ },
    { name: 'a sem_ver rule with an unknown comparison', input: file({ a: withTargeting({ if: [{ sem_ver: [{ var: 'v' }, '>>', '1.0.0'] }, 'on', 'off'] }) }), issue: /\/flags\/a\/targeting/ },
    { name: 'metadata holding an object', input: file({ a: { ...flag, metadata: { owner: { team: 'x' } as unknown as string } } }), issue: /\/flags\/a\/metadata\/owner/ },
    { name: 'a $ref the file does not define', input: file({ a: withTargeting({ if: [isAdmin, 'on', 'off'] }) }), issue: /targeting configuration for flag 'a'/ },
    { name: 'an evaluator with an unknown operator', input: file({ a: withTargeting({ if: [isAdmin, 'on', 'off'] }) }, { $evaluators: { isAdmin: { no_such_op: [1] } } }), issue: /\/\$evaluators\/isAdmin/ },
  ])('refuses $name as ADAPT_FLAGD_INVALID, naming where', ({ input, issue }) => {
    let caught: unknown;
    try {
      assertFlagdLoads(input, { targeting: true });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ADAPT_FLAGD_INVALID', status: 422 });
    expect((caught as { details: { issues: string[] } }).details.issues.join('\n')).toMatch(issue);
  });
});

describe('assertFlagdDefinition', () => {
  it('checks the schema of one definition, leaving a $ref to the whole file', () => {
    expect(() => assertFlagdDefinition('a', withTargeting({ if: [isAdmin, 'on', 'off'] }))).not.toThrow();
    expect(() => assertFlagdDefinition('a', withTargeting({ no_such_op: [1] }))).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID' }));
  });
});
