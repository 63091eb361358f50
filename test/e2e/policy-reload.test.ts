import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyBundle, ensureOpa, repoRoot } from '../policy/opa-bundle.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { makeTempDir } from '../support/temp-dir.js';

const work = makeTempDir('flaggate-reload-');
const bundle = join(work.dir, 'live.tar.gz');
let app: TestFlaggate;
let auditor: string;

// A change freeze: every write denied, audit reads still allowed; easy to tell apart from the shipped policy.
const denyAll = `package flaggate.authz
import rego.v1
default decision := {"allow": false, "reasons": ["frozen: all changes are paused"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
decision := {"allow": true, "reasons": ["audit reads stay open"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []} if input.change.action == "audit.read"
`;

/** Replaces the live bundle the way a deploy would: write beside it, rename over it. */
function deploy(from: string) {
  copyFileSync(from, `${bundle}.tmp`);
  renameSync(`${bundle}.tmp`, bundle);
}

async function lastDecision() {
  const res = await fetch(`${app.controlUrl}/v1/audit/entries?limit=1000`, { headers: { authorization: `Bearer ${auditor}` } });
  const json = (await res.json()) as { entries?: Array<{ decision: { allow: boolean; reasons: string[]; policy_revision: string } }> };
  if (!json.entries) throw new Error(JSON.stringify(json));
  return json.entries.at(-1)!.decision;
}

async function change(token: string) {
  return fetch(`${app.proxyUrl}/flags/checkout.new-flow/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'r', 'x-flaggate-ticket': 'CHG-3' } });
}

async function eventually(check: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  ensureOpa();
  copyFileSync(join(repoRoot, 'bundles', 'flaggate.tar.gz'), bundle);
  app = await startTestFlaggate({ 'policy.bundle': bundle, 'policy.watchIntervalMs': 100 });
  auditor = await app.token('ada', 'auditor');
}, 120_000);
afterAll(async () => {
  await app?.stop();
  work.cleanup();
});

describe('policy hot reload', () => {
  it('swaps in a new bundle when the file changes, and every later decision names it', async () => {
    const release = await app.token('riley', 'release_engineer');
    expect((await change(release)).status).toBe(200);
    const shipped = (await lastDecision()).policy_revision;

    deploy(buildTinyBundle(join(work.dir, 'frozen'), { rego: denyAll, revision: 'frozen-1' }));
    await eventually(async () => (await change(release)).status === 403);
    expect(await lastDecision()).toMatchObject({ allow: false, reasons: ['frozen: all changes are paused'], policy_revision: 'frozen-1' });
    expect(shipped).not.toBe('frozen-1');
  });

  it('refuses a broken bundle and keeps deciding with the running one', async () => {
    const release = await app.token('riley', 'release_engineer');
    writeFileSync(`${bundle}.tmp`, 'not a bundle');
    renameSync(`${bundle}.tmp`, bundle);
    await eventually(async () => /flaggate_policy_reloads_total\{result="refused"\} [1-9]/.test(await (await fetch(`${app.controlUrl}/metrics`)).text()));
    expect((await change(release)).status).toBe(403);
    expect(await lastDecision()).toMatchObject({ policy_revision: 'frozen-1' });
  });

  it('takes reloads one at a time: two at once record one swap, from the bundle really in force', async () => {
    const before = app.ledger.head().seq;
    const thawed = buildTinyBundle(join(work.dir, 'thawed'), { rego: denyAll.replaceAll('frozen', 'thawed'), revision: 'thawed-1' });
    copyFileSync(thawed, `${bundle}.tmp`);
    renameSync(`${bundle}.tmp`, bundle);
    await Promise.all([app.reloadPolicy(), app.reloadPolicy()]);
    const swaps = app.ledger.entriesAfter(before, 100).filter((e) => e.entry_type === 'policy.activated');
    expect(swaps).toHaveLength(1);
    expect(swaps[0]).toMatchObject({ previous_state: { revision: 'frozen-1' }, new_state: { revision: 'thawed-1' } });
  });
});
