/** The policy data contract in docs/ is the one the sidecar builds and the case fixtures use. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { platformPlugins } from '../../src/platforms/index.js';
import { policyInput } from '../../src/policy/index.js';
import { policyInputJsonSchema, policyInputSchema } from '../../src/policy/policy-input-schema.js';
import { platformSettings, platformSamples } from '../platforms/samples.js';
import { repoRoot } from './opa-bundle.js';

const caseDirs = [join(repoRoot, 'test', 'fixtures', 'policy-cases'), ...readdirSync(join(repoRoot, 'examples', 'policies')).map((d) => join(repoRoot, 'examples', 'policies', d, 'cases'))];
const caseInputs = caseDirs.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => (parse(readFileSync(join(dir, f), 'utf8')) as { cases: Array<{ note: string; input: unknown }> }).cases.map((c) => ({ note: `${f}: ${c.note}`, input: c.input }))),
);

const actor = { id: 'alice', displayName: 'Alice', authMethod: 'jwt' as const, roles: ['release_engineer'] };
const context = { reason: 'rollout', ticket: 'FF-1', links: { pr: 'https://git.example/pr/1' }, sources: { reason: 'header' as const, ticket: 'token' as const } };

describe('docs/policy-input.schema.json', () => {
  it('is generated from the schema (npm run build && node scripts/write-input-schema.mjs)', () => {
    expect(JSON.parse(readFileSync(join(repoRoot, 'docs', 'policy-input.schema.json'), 'utf8'))).toEqual(policyInputJsonSchema());
  });

  it.each(caseInputs)('admits the case input "$note"', ({ input }) => {
    expect(policyInputSchema.safeParse(input).error).toBeUndefined();
  });

  it('admits the input the sidecar builds for every sample write and read of every platform', async () => {
    let checked = 0;
    for (const plugin of platformPlugins) {
      const platform = await plugin.create({ name: plugin.name, targetUrl: plugin.name === 'flagd' ? '/nonexistent/flags.json' : 'http://127.0.0.1:1', targetToken: 't', environment: 'production', timeoutMs: 1000, ...platformSettings[plugin.name] });
      for (const s of [...platformSamples[plugin.name]!.writes, ...platformSamples[plugin.name]!.reads]) {
        const body = Buffer.from(s.body ?? '', 'utf8');
        const c = platform.classify({ method: s.method, path: s.target, headers: s.headers ?? {}, body, bodySha256: createHash('sha256').update(body).digest('hex') });
        if (c.kind === 'unrecognized') continue;
        const change = c.kind === 'write' ? { ...c.change, previousState: { tags: ['team:search'] } } : c.read;
        const input = policyInput({ actor, change, context, timeUtc: '2026-01-02T03:04:05.000Z' });
        expect(policyInputSchema.safeParse(input).error, `${plugin.name} ${s.name}`).toBeUndefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it.each([
    { name: 'an actor field the contract does not name', input: { actor: { ...actor, claims: {} }, change: { action: 'audit.read' }, approvals: [], context: { links: {}, timeUtc: 't' } } },
    { name: 'an unknown auth method', input: { actor: { ...actor, authMethod: 'password' }, change: { action: 'audit.read' }, approvals: [], context: { links: {}, timeUtc: 't' } } },
    { name: 'no decision time', input: { actor, change: { action: 'audit.read' }, approvals: [], context: { links: {} } } },
  ])('rejects $name', ({ input }) => {
    expect(policyInputSchema.safeParse(input).success).toBe(false);
  });
});
