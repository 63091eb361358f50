import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyLaunchDarkly, settledLaunchDarkly } from '../../../src/platforms/launchdarkly/index.js';

const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';
const FLAG = '/api/v2/flags/default/checkout';

function raw(method: string, path: string, body?: unknown, contentType = 'application/json'): RawRequest {
  const bytes = Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return { method, path, headers: body === undefined ? {} : { 'content-type': contentType }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
}
const change = (req: RawRequest) => {
  const c = classifyLaunchDarkly(req);
  if (c.kind !== 'write') throw new Error(`not a write: ${c.kind}`);
  return c;
};

describe('LaunchDarkly classification', () => {
  it('normalizes each update form to the action and environment it touches', () => {
    const cases: Array<[unknown, string, string, string]> = [
      [{ environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC, 'flag.enable', 'production'],
      [{ environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }, { kind: 'turnFlagOff' }] }, SEMANTIC, 'flag.disable', 'production'],
      [{ environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }, { kind: 'updateFallthroughVariationOrRollout', variationId: 'v' }] }, SEMANTIC, 'flag.update', 'production'],
      [{ environmentKey: 'test', instructions: [{ kind: 'addTargets', values: ['u1'], variationId: 'v' }] }, SEMANTIC, 'flag.update', 'test'],
      [{ instructions: [{ kind: 'archiveFlag' }] }, SEMANTIC, 'flag.archive', '*'],
      [{ instructions: [{ kind: 'updateName', value: 'n' }] }, SEMANTIC, 'flag.update', '*'],
      [[{ op: 'replace', path: '/environments/production/on', value: false }], 'application/json', 'flag.disable', 'production'],
      [{ patch: [{ op: 'replace', path: '/environments/production/on', value: true }, { op: 'replace', path: '/environments/test/on', value: true }] }, 'application/json', 'flag.update', '*'],
      [{ patch: [{ op: 'replace', path: '/archived', value: true }], comment: 'done' }, 'application/json', 'flag.archive', '*'],
      [{ environments: { production: { on: true } } }, 'application/merge-patch+json', 'flag.enable', 'production'],
      [{ merge: { environments: { test: { offVariation: 1 } } }, comment: 'c' }, 'application/merge-patch+json', 'flag.update', 'test'],
      [{ merge: { environments: { production: { on: true } } } }, 'application/merge-patch+json', 'flag.enable', 'production'],
      [{ name: 'x', environments: { test: { on: true } } }, 'application/merge-patch+json', 'flag.update', '*'],
    ];
    for (const [body, type, action, environment] of cases) {
      const got = change(raw('PATCH', FLAG, body, type));
      expect(got.change, `${type} ${JSON.stringify(body)}`).toMatchObject({ action, environment, flagKey: 'checkout', project: 'default' });
      expect(got.forward.contentType).toBe(type === SEMANTIC ? SEMANTIC : type);
    }
  });

  it('keeps the comment with the new state, and ignoreConflicts (which overrides LaunchDarkly approvals) where the policy sees it', () => {
    const got = change(raw('PATCH', `${FLAG}?ignoreConflicts=true`, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }], comment: 'go' }, SEMANTIC));
    expect(got.change.newState).toMatchObject({ comment: 'go', ignoreConflicts: true });
    expect(got.forward.target).toBe(`${FLAG}?ignoreConflicts=true`);
  });

  it('refuses what LaunchDarkly could read another way than the entry records', () => {
    const refused: Array<[RawRequest, string]> = [
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      // An undocumented kind: where it acts cannot be known, so environmentKey cannot scope it.
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'updateMigrationSettings' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn' }, { kind: 'someFutureKind' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }], bypass: true }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      // An environment named again in an instruction: a second reading of where it acts.
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn', environmentKey: 'production' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn', EnvironmentKey: 'production' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { comment: 'only' }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      // JSON Patch's wrapper in a merge patch: LaunchDarkly would read `patch` as a member of the flag.
      [raw('PATCH', FLAG, { patch: { environments: { production: { on: true } } }, comment: 'c' }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { merge: { description: 'd' }, name: 'x' }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { merge: [{ op: 'remove', path: '/description' }] }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/prod~1x/on', value: true }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/description', value: 'x', extra: 1 }]), 'ADAPT_BODY_MALFORMED'],
      // LaunchDarkly (Go) matches struct fields regardless of case: "Instructions", "Path" would be read as the others.
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn' }], Instructions: [{ kind: 'turnFlagOff' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/description', Path: '/environments/production/on', value: 'x' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn', Kind: 'turnFlagOff' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      // The same inside the wrappers, and in the flag's nested settings.
      [raw('PATCH', FLAG, { merge: { environments: { production: { on: true, On: false } } }, comment: 'c' }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { merge: { name: 'a', Name: 'b' } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { patch: [{ op: 'replace', path: '/description', Path: '/name', value: 'x' }] }), 'ADAPT_BODY_MALFORMED'],
      [raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', defaults: { onVariation: 0, OnVariation: 1, offVariation: 1 } }), 'ADAPT_BODY_MALFORMED'],
      [raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', variations: [{ value: true, Value: false }, { value: false }] }), 'ADAPT_BODY_MALFORMED'],
      // At any depth: an instruction's clause, an environment's rules and its rollout.
      [raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'addRule', clauses: [{ attribute: 'email', Attribute: 'key', op: 'in', values: ['a'] }], variationId: 'v1' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { merge: { environments: { test: { rules: [{ clauses: [{ attribute: 'email', op: 'in', Op: 'startsWith', values: ['a'] }] }] } } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: { test: { fallthrough: { rollout: { variations: [{ variation: 0, weight: 100000, Weight: 0 }] } } } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      // One key that differs only in case from a documented field is read as that field, though the entry shows another member.
      [raw('PATCH', FLAG, { environments: { production: { On: false } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { merge: { Environments: { production: { on: false } } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'addTargets', Values: ['u1'], variationId: 'v' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'updateRuleVariationOrRollout', ruleId: 'r', RolloutWeights: { v: 100000 } }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', variations: [{ value: true, Name: 'on' }, { value: false }] }), 'ADAPT_BODY_MALFORMED'],
      // So does a JSON Patch path's member: added beside the field, and decoded as it.
      [raw('PATCH', FLAG, [{ op: 'add', path: '/environments/production/On', value: false }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'add', path: '/Environments', value: { production: { on: false } } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'add', path: '/environments/production/fallthrough/Variation', value: 1 }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'copy', from: '/environments/test/ON', path: '/environments/production/offVariation' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'add', path: '/environments/production', value: { on: true, Rules: [] } }]), 'ADAPT_BODY_MALFORMED'],
      // Or lands by a copy or move from a map of the user's names into the flag's settings, unchecked.
      [raw('PATCH', FLAG, [{ op: 'add', path: '/customProperties/Rollout', value: { name: 'n', value: ['a'] } }, { op: 'copy', from: '/customProperties', path: '/environments/production/fallthrough' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'copy', from: '/environments', path: '/environments/production/fallthrough' }]), 'ADAPT_BODY_MALFORMED'],
      // An environment may be named after a map of the flag's: its settings are a struct all the same.
      [raw('PATCH', FLAG, [{ op: 'add', path: '/environments/customProperties/On', value: false }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: { customProperties: { On: false } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'copy', from: '/customProperties', path: '/customProperties/environments' }]), 'ADAPT_BODY_MALFORMED'],
      // Where the document spells a field two ways, the other spelling is taken for LaunchDarkly's one field.
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'removeRule', ruleID: 'r1' }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { instructions: [{ kind: 'updateDefaultVariation', OnVariationValue: false }] }, SEMANTIC), 'ADAPT_BODY_MALFORMED'],
      // A path or from that is not a JSON Pointer: the checks read pointers, a patch library may read it another way.
      [raw('PATCH', FLAG, [{ op: 'replace', path: 'x/environments/production/on', value: true }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'copy', from: 'environments/test', path: '/environments/production' }]), 'ADAPT_BODY_MALFORMED'],
      // An environment's `on` removed or written as null decodes as off: refused, not recorded as an update.
      [raw('PATCH', FLAG, [{ op: 'remove', path: '/environments/production/on' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/production/on', value: null }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: { production: { on: null } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      // Or one level up: an environment removed, replaced without on, every environment replaced; null environments in a merge patch.
      [raw('PATCH', FLAG, [{ op: 'remove', path: '/environments/production' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/production', value: { rules: [] } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments', value: { production: { on: null } } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'move', from: '/environments/production', path: '/environments/staging' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: { production: null } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: null }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      // What a JSON Patch operation writes, where its path puts it in the flag.
      [raw('PATCH', FLAG, [{ op: 'add', path: '/environments/production/rules/-', value: { clauses: [{ attribute: 'email', Attribute: 'key', op: 'in', values: ['a'] }], variation: 0 } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/production/fallthrough', value: { variation: 0, Variation: 1 } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/production', value: { on: false, On: true } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { patch: [{ op: 'add', path: '/environments/production/prerequisites/-', value: { key: 'p', variation: 0, Variation: 1 } }] }), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'add', path: '/variations/-', value: { value: 1, Value: 2 } }]), 'ADAPT_BODY_MALFORMED'],
      // An environment may be named value or values: its settings are a struct all the same.
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/value/fallthrough', value: { variation: 0, Variation: 1 } }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, { environments: { values: { on: false, On: true } } }, 'application/merge-patch+json'), 'ADAPT_BODY_MALFORMED'],
      // A value of the user's copied or moved into the flag's settings would land unchecked.
      [raw('PATCH', FLAG, [{ op: 'replace', path: '/variations/0/value', value: { variation: 0, Variation: 1 } }, { op: 'copy', from: '/variations/0/value', path: '/environments/production/fallthrough' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', FLAG, [{ op: 'move', from: '/customProperties/x/value', path: '/environments/production' }]), 'ADAPT_BODY_MALFORMED'],
      [raw('PATCH', `${FLAG}?dryRun=true`, [{ op: 'replace', path: '/description', value: 'x' }]), 'ADAPT_QUERY_REFUSED'],
      [raw('PATCH', `${FLAG}?ignoreConflicts=yes`, [{ op: 'replace', path: '/description', value: 'x' }]), 'ADAPT_QUERY_REFUSED'],
      [raw('POST', '/api/v2/flags/default?clone=other', { key: 'k', name: 'n' }), 'ADAPT_QUERY_REFUSED'],
      [raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, 'application/json; domain-model=LaunchDarkly.other'), 'ADAPT_MEDIA_TYPE_UNSUPPORTED'],
      [raw('GET', '/api/v2/flags/default/checkout/triggers/production'), 'ADAPT_ROUTE_UNKNOWN'],
      [raw('GET', '/api/v2/tokens'), 'ADAPT_ROUTE_UNKNOWN'],
    ];
    for (const [req, code] of refused) expect(() => classifyLaunchDarkly(req), `${req.method} ${req.path} ${req.body.toString()}`).toThrow(expect.objectContaining({ code }));
    expect(classifyLaunchDarkly(raw('POST', '/api/v2/flags/default/checkout/copy', {}))).toMatchObject({ kind: 'unrecognized' });
    // Keys of the user's choosing are matched exactly: two custom properties that differ in case are two.
    expect(classifyLaunchDarkly(raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', customProperties: { Team: { name: 'T', value: ['a'] }, team: { name: 't', value: ['b'] } } }))).toMatchObject({ kind: 'write' });
    // So are a JSON variation's value, a clause's values and what a JSON Patch operation writes: the user's JSON.
    expect(classifyLaunchDarkly(raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', variations: [{ value: { Color: 'red', color: 'blue' } }, { value: {} }] }))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'replace', path: '/variations/0/value', value: { Size: 1, size: 2 } }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'add', path: '/variations/-', value: { value: { Size: 1, size: 2 }, name: 'big' } }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'add', path: '/customProperties', value: { Team: { name: 'T', value: ['a'] }, team: { name: 't', value: ['b'] } } }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'copy', from: '/environments/test/rules/0', path: '/environments/production/rules/-' }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'copy', from: '/variations/0/value', path: '/variations/1/value' }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'updateFallthroughVariationOrRollout', rolloutWeights: { Aa: 50000, aA: 50000 } }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
    // Names of the user's (an environment, a custom property, a path into a variation's value) may spell a field in any case.
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environments: { On: { on: true } } }, 'application/merge-patch+json'))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'replace', path: '/environments/Rules/on', value: true }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, [{ op: 'add', path: '/variations/0/value/On', value: 1 }]))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('POST', '/api/v2/flags/default', { key: 'k', name: 'n', customProperties: { Kind: { name: 'K', value: ['a'] } } }))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'removeRule', ruleId: 'r1' }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environments: { customProperties: { on: false } } }, 'application/merge-patch+json'))).toMatchObject({ kind: 'write', change: { action: 'flag.disable', environment: 'customProperties' } });
    // A variation's value given by an instruction, one clause's values, a whole rule's weights: the user's.
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { instructions: [{ kind: 'updateDefaultVariation', onVariationValue: { On: 1, on: 2 }, offVariationValue: { Off: 1 } }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'updateClause', ruleId: 'r', clauseId: 'c', clause: { attribute: 'a', op: 'in', values: [{ On: 1 }] } }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { environmentKey: 'test', instructions: [{ kind: 'replaceRules', rules: [{ clauses: [], rolloutWeights: { Variation: 60000, variation: 40000 } }] }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
    expect(classifyLaunchDarkly(raw('PATCH', FLAG, { instructions: [{ kind: 'updateDefaultVariation', onVariationValue: true, offVariationValue: false }] }, SEMANTIC))).toMatchObject({ kind: 'write' });
  });

  it('settles on and off by the environment, creation and deletion by existence', () => {
    const enable = change(raw('PATCH', FLAG, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC)).change;
    expect(settledLaunchDarkly(enable, { exists: true, environments: { production: { on: true } } })).toBe('applied');
    expect(settledLaunchDarkly(enable, { exists: true, environments: { production: { on: false } } })).toBe('not_applied');
    expect(settledLaunchDarkly(enable, { exists: true, environments: {} })).toBe('unknown');
    const del = change(raw('DELETE', FLAG)).change;
    expect(settledLaunchDarkly(del, { exists: false })).toBe('applied');
  });
});

/**
 * The instruction kinds the PATCH flag operation's description documents, section by section, held
 * against the classification: each is taken, those "working with targeting" in the environment
 * named (the variation kinds, which change the flag itself, everywhere), the settings and lifecycle
 * kinds everywhere.
 */
describe('semantic patch kinds, from LaunchDarkly\'s API description', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parse } = await import('yaml');
  const { LD_DIR } = await import('../../support/launchdarkly/double.js');
  const doc = parse(readFileSync(join(LD_DIR, 'openapi.yaml'), 'utf8')) as { paths: Record<string, { patch: { description: string } }> };
  const sections = doc.paths['/api/v2/flags/{projectKey}/{featureFlagKey}']!.patch.description.split('<summary>').slice(1);
  const documented = sections.map((s) => ({ needsEnvironment: /require the `environmentKey`/.test(s) && !/do not require/.test(s), kinds: [...s.matchAll(/^#### (\w+)/gm)].map((m) => m[1]!) }));
  const flagWide = new Set(['addVariation', 'removeVariation', 'updateVariation', 'updateDefaultVariation']);

  it('finds the four documented sections and their kinds', () => {
    expect(documented.map((d) => d.kinds.length)).toEqual([2, 32, 14, 5]);
  });

  it('takes every documented kind, scoped as the description says', () => {
    for (const { needsEnvironment, kinds } of documented) {
      for (const kind of kinds) {
        const body = needsEnvironment && !flagWide.has(kind) ? { environmentKey: 'test', instructions: [{ kind }] } : { instructions: [{ kind }] };
        expect(change(raw('PATCH', FLAG, body, SEMANTIC)).change.environment, kind).toBe(needsEnvironment && !flagWide.has(kind) ? 'test' : '*');
      }
    }
  });
});

/** The field names the classifier holds LaunchDarkly's reader to, derived from the API description again. */
describe('documented field names', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parse } = await import('yaml');
  const { LD_DIR } = await import('../../support/launchdarkly/double.js');
  const { DOCUMENTED_FIELDS } = await import('../../../src/platforms/launchdarkly/documented-fields.js');
  const doc = parse(readFileSync(join(LD_DIR, 'openapi.yaml'), 'utf8')) as { paths: Record<string, { patch: { description: string } }> };

  it('are every schema\'s properties and the names the flag update\'s description gives instructions', () => {
    const names = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (typeof node !== 'object' || node === null) return;
      const { properties } = node as { properties?: unknown };
      if (typeof properties === 'object' && properties !== null && !Array.isArray(properties)) for (const name of Object.keys(properties)) names.add(name);
      Object.values(node).forEach(walk);
    };
    walk(doc);
    const description = doc.paths['/api/v2/flags/{projectKey}/{featureFlagKey}']!.patch.description;
    for (const m of description.matchAll(/^\s*- `([A-Za-z_][A-Za-z0-9_]*)`:/gm)) names.add(m[1]!);
    for (const m of description.matchAll(/"([A-Za-z_][A-Za-z0-9_]*)"\s*:/g)) names.add(m[1]!);
    expect([...DOCUMENTED_FIELDS]).toEqual([...names].sort());
    expect(DOCUMENTED_FIELDS).toEqual(expect.arrayContaining(['on', 'environments', 'values', 'rolloutWeights', 'variation']));
  });
});
