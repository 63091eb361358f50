/**
 * A graceful stop and a restart leave a ledger that verifies as it is, with no help from a running
 * sidecar: the tail is covered by a timestamp token and sealed by a checkpoint before exit, and a
 * tail left uncovered by a crash is covered at start-up before the sidecar serves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { changeFlag, runCli, startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const dirs: Array<ReturnType<typeof makeTempDir>> = [];
let sidecar: SidecarProcess | undefined;

afterAll(async () => {
  await sidecar?.kill('SIGKILL');
  for (const d of dirs) d.cleanup();
});

/** Several allowed changes back to back; the last outcome entry is the newest row when this returns. */
async function changes(s: SidecarProcess, n: number): Promise<void> {
  const release = await s.token('riley', 'release_engineer');
  for (let i = 0; i < n; i += 1) {
    const res = await changeFlag(s.proxyUrl, release, 'checkout.new-flow', i % 2 === 0, `stop test ${i}`);
    expect(res.status).toBe(200);
  }
}

function ledgerState(dataDir: string) {
  const reader = openLedgerReader(`${dataDir}/ledger.sqlite`);
  try {
    let head = 0;
    for (let after = 0; ; ) {
      const rows = reader.read(after, 1000) as Array<{ seq: number }>;
      if (rows.length === 0) break;
      head = rows[rows.length - 1]!.seq;
      after = head;
    }
    return { head, coveredThrough: Math.max(0, ...reader.tokens().map((t) => t.coversSeq)), sealedThrough: Math.max(0, ...reader.checkpoints().map((c) => c.seq)) };
  } finally {
    reader.close();
  }
}

describe('graceful stop', () => {
  it('covers the tail with a token and a checkpoint on SIGTERM, so verify and verify-export pass on the ledger left behind', async () => {
    const data = makeTempDir('flaggate-stop-');
    dirs.push(data);
    sidecar = await startSidecarProcess({ dataDir: data.dir, chainId: 'stop' });
    await changes(sidecar, 4);
    await sidecar.kill('SIGTERM'); // at once: the last outcome may still wait for a group, and coverage is pending
    sidecar = undefined;

    const state = ledgerState(data.dir);
    expect(state.head, 'every decision and every outcome, the last one committed by the stop').toBe(8);
    expect(state).toEqual({ head: state.head, coveredThrough: state.head, sealedThrough: state.head });

    const verified = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`]);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, timestamps: { ok: true } });
    expect(verified.code).toBe(0);

    const exported = await runCli(['export', '--db', `${data.dir}/ledger.sqlite`, '--out', `${data.dir}/pkg`]);
    expect(exported.code, exported.stderr).toBe(0);
    const checked = await runCli(['verify-export', `${data.dir}/pkg`]);
    expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true });
    expect(checked.code).toBe(0);

    // The state a stop used to leave: the newest entries without a token. Verify names it.
    tamper(`${data.dir}/ledger.sqlite`, 'DROP TRIGGER timestamp_tokens_no_delete');
    tamper(`${data.dir}/ledger.sqlite`, 'DELETE FROM timestamp_tokens WHERE covers_seq = ?', state.head);
    const uncovered = await runCli(['verify', '--db', `${data.dir}/ledger.sqlite`]);
    expect(uncovered.code).toBe(1);
    expect(JSON.parse(uncovered.stdout)).toMatchObject({ ok: false, failure: { kind: 'uncovered', code: 'TIMESTAMP_INVALID' } });
  }, 120_000);

  it('covers a tail a crash left uncovered at start-up, before serving', async () => {
    const data = makeTempDir('flaggate-stop-');
    dirs.push(data);
    sidecar = await startSidecarProcess({ dataDir: data.dir, chainId: 'crash-tail' });
    await changes(sidecar, 3);
    // The last outcome is committed shortly after its reply (it waits for a group): kill after it.
    await expect.poll(() => ledgerState(data.dir).head, { timeout: 5000 }).toBe(6);
    await sidecar.kill('SIGKILL');
    // A kill between an append and its token; usually the outcome's pending token is lost already,
    // and a slow machine may have stored it before the kill landed.
    const killed = ledgerState(data.dir);
    tamper(`${data.dir}/ledger.sqlite`, 'DROP TRIGGER timestamp_tokens_no_delete');
    tamper(`${data.dir}/ledger.sqlite`, 'DELETE FROM timestamp_tokens WHERE covers_seq >= ?', killed.head);
    const before = ledgerState(data.dir);
    expect(before.coveredThrough, 'the killed sidecar left its last outcome entry uncovered').toBeLessThan(before.head);

    // /healthz answering means start-up finished: the tail is covered before anything is served.
    sidecar = await startSidecarProcess({ dataDir: data.dir, chainId: 'crash-tail' });
    const after = ledgerState(data.dir);
    expect(after).toEqual({ head: before.head, coveredThrough: before.head, sealedThrough: before.head });
    await sidecar.kill('SIGTERM');
    sidecar = undefined;
  }, 120_000);
});
