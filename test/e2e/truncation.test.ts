/**
 * A tail cut on the box: the append-only triggers dropped, the newest rows, their checkpoints and
 * their timestamp tokens deleted, so the ledger file alone still verifies. The upstream copies (the
 * default JSON Lines stream, its checkpoint file) still hold the cut entries: verify reports the cut
 * as `truncated`, and the sidecar refuses to serve with AUDIT_UPSTREAM_AHEAD.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { runCli } from '../replicate/sidecar-process.js';
import { makeTempDir } from '../support/temp-dir.js';

const data = makeTempDir('flaggate-cut-');
const token = (sub: string, role: string) => mintDevToken({ dataDir: data.dir, sub, roles: [role], clock: systemClock });
const start = () =>
  startFlaggate(loadConfig({ overrides: { dataDir: data.dir, proxyPort: 0, controlPort: 0, 'audit.checkpointEveryEntries': 2 } }), { logger: createLogger({ level: 'silent' }) });
let app: Flaggate | undefined;
let headBefore = 0;
let cutAt = 0;

/** Deletes every row, checkpoint and token past `seq`, as someone holding the box would. */
function cutTail(seq: number) {
  const db = new Database(`${data.dir}/ledger.sqlite`);
  try {
    for (const t of ['audit_entries', 'checkpoints', 'timestamp_tokens']) db.exec(`DROP TRIGGER IF EXISTS ${t}_no_delete`);
    db.prepare('DELETE FROM audit_entries WHERE seq > ?').run(seq);
    db.prepare('DELETE FROM checkpoints WHERE seq > ?').run(seq);
    db.prepare('DELETE FROM timestamp_tokens WHERE covers_seq > ?').run(seq);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  app = await start();
  const release = await token('riley', 'release_engineer');
  for (let i = 0; i < 6; i += 1) {
    const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/${i % 2 ? 'disable' : 'enable'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': `cut test ${i}`, 'x-flaggate-ticket': 'CHG-9' },
    });
    expect(res.status).toBe(200);
  }
  await app.close();
  app = undefined;
  const reader = openLedgerReader(`${data.dir}/ledger.sqlite`);
  const tokens = reader.tokens().map((t) => t.coversSeq);
  reader.close();
  headBefore = Math.max(...tokens);
  // Cut where a token still covers the new head, removing every checkpoint past it: the file alone
  // then verifies clean.
  cutAt = Math.max(...tokens.filter((s) => s < headBefore - 2));
  cutTail(cutAt);
}, 60_000);

afterAll(async () => {
  await app?.close();
  data.cleanup();
});

describe('a tail cut on the box', () => {
  it('verifies clean from the ledger file alone (the reason upstream copies are compared)', async () => {
    // No copy to compare: the stream beside the ledger moved away. (A copy named with --upstream
    // that is absent fails the verification instead: the auditor asked for a comparison.)
    renameSync(`${data.dir}/audit.jsonl`, `${data.dir}/audit.jsonl.aside`);
    try {
      const res = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`]);
      expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, head: { seq: cutAt } });
      const named = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`, '--upstream', `${data.dir}/none.jsonl`]);
      expect(JSON.parse(named.stdout)).toMatchObject({ ok: false, failure: { kind: 'unchecked' } });
    } finally {
      renameSync(`${data.dir}/audit.jsonl.aside`, `${data.dir}/audit.jsonl`);
    }
  }, 60_000);

  it('is reported as truncated by flaggate verify, against the JSON Lines stream beside the ledger', async () => {
    const res = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`]);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, failure: { kind: 'truncated', seq: cutAt + 1 }, upstream: [{ ok: false, kind: 'cut' }] });
  }, 60_000);

  it('is reported as truncated against the newest upstream checkpoint even when the entry stream was cut too', async () => {
    const stream = `${data.dir}/audit.jsonl`;
    const kept = readFileSync(stream, 'utf8');
    const lines = kept.split('\n').filter(Boolean);
    writeFileSync(stream, lines.slice(0, cutAt).join('\n') + '\n');
    try {
      const res = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`]);
      const report = JSON.parse(res.stdout) as { ok: boolean; failure: { kind: string }; upstream: Array<{ message: string }> };
      expect(report).toMatchObject({ ok: false, failure: { kind: 'truncated' } });
      expect(report.upstream[0]!.message).toMatch(/below the upstream checkpoint/);
    } finally {
      writeFileSync(stream, kept);
    }
  }, 60_000);

  it('keeps the sidecar from serving: not ready with AUDIT_UPSTREAM_AHEAD, changes refused, nothing appended, verify 409 truncated', async () => {
    app = await start();
    const ready = await fetch(`${app.controlUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, checks: { 'upstream-copy': { ok: false, code: 'AUDIT_UPSTREAM_AHEAD' } } });

    const release = await token('riley', 'release_engineer');
    const change = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/enable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'after the cut', 'x-flaggate-ticket': 'CHG-9' },
    });
    expect(change.status).toBe(503);
    expect(await change.json()).toMatchObject({ code: 'AUDIT_UPSTREAM_AHEAD' });

    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${await token('ada', 'auditor')}` } });
    expect(verify.status).toBe(409);
    expect(await verify.json()).toMatchObject({ ok: false, failure: { kind: 'truncated' } });
    expect(app.ledger.head().seq).toBe(cutAt);
  }, 60_000);
});
