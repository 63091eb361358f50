import { appendFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openKeyring, openLedger, signCheckpoint, type Checkpoint, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { compareWithUpstream, createJsonlSink, createUpstreamGuard, type UpstreamSource } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(n: number) {
  const tmp = makeTempDir();
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'c', clock: fixedClock(0) });
  const keyring = await openKeyring(`${tmp.dir}/keys`, fixedClock(0));
  const other = await openKeyring(`${tmp.dir}/other-keys`, fixedClock(0));
  cleanups.push(() => tmp.cleanup(), () => ledger.close());
  const entries = Array.from({ length: n }, (_, i) => ledger.append(sampleEntry(i + 1)));
  return { dir: tmp.dir, ledger, keyring, other, entries };
}

const compare = (ledger: Ledger, sinks: UpstreamSource[], keys?: () => { keys: never[] } | ReturnType<Awaited<ReturnType<typeof openKeyring>>['jwks']>) =>
  compareWithUpstream({ sinks, chainId: 'c', localHead: ledger.head, rowsAfter: ledger.rowsAfter, ...(keys ? { keys } : {}) });

describe('compareWithUpstream', () => {
  it('reads the JSON Lines stream and its checkpoint file, passing over a torn last line and finding a head larger than the read window', async () => {
    const { dir, ledger, keyring, entries } = await setup(3);
    const big = ledger.append(sampleEntry(4, { new_state: { blob: 'x'.repeat(200_000) } }));
    const sink = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    cleanups.push(() => sink.close());
    await sink.deliver([...entries, big]);
    await sink.deliverCheckpoints!([await signCheckpoint({ chainId: 'c', seq: 3, hash: entries[2]!.hash, time: 't' }, keyring)]);
    appendFileSync(`${dir}/audit.jsonl`, '{"seq":5,"chain_id":"c","ha');
    expect(await sink.head!('c')).toEqual({ seq: 4, hash: big.hash });
    expect(await sink.latestCheckpoint!('c')).toMatchObject({ seq: 3, hash: entries[2]!.hash });
    expect(await sink.head!('another-chain')).toBeNull();
    expect(await compare(ledger, [sink], () => keyring.jwks())).toMatchObject([{ ok: true }]);
  });

  it.each([
    { name: 'a head past the local chain', upstream: 5, checkpoint: null, want: { ok: false, kind: 'cut' } },
    { name: 'a checkpoint past the local chain', upstream: 2, checkpoint: 5, want: { ok: false, kind: 'cut', message: expect.stringMatching(/upstream checkpoint at seq 5/) } },
    { name: 'a head that lags', upstream: 2, checkpoint: 3, want: { ok: true } },
  ])('reports $name', async ({ upstream, checkpoint, want }) => {
    const { ledger, keyring, entries } = await setup(3);
    const hashAt = (seq: number) => entries[seq - 1]?.hash ?? 'f'.repeat(64);
    const cp = checkpoint ? await signCheckpoint({ chainId: 'c', seq: checkpoint, hash: hashAt(checkpoint), time: 't' }, keyring) : null;
    const source: UpstreamSource = { name: 'up', head: async () => ({ seq: upstream, hash: hashAt(upstream) }), latestCheckpoint: async () => cp };
    expect((await compare(ledger, [source], () => keyring.jwks()))[0]).toMatchObject(want);
  });

  it('reports a fork at an upstream checkpoint, and ignores a checkpoint signed with a key it does not trust', async () => {
    const { ledger, keyring, other } = await setup(3);
    const forged = (k: typeof keyring): Promise<Checkpoint> => signCheckpoint({ chainId: 'c', seq: 9, hash: 'e'.repeat(64), time: 't' }, k);
    const source = (cp: Checkpoint): UpstreamSource => ({ name: 'up', latestCheckpoint: async () => cp });
    expect((await compare(ledger, [source(await forged(other))], () => keyring.jwks()))[0]).toMatchObject({ ok: true });
    expect((await compare(ledger, [source(await forged(keyring))], () => keyring.jwks()))[0]).toMatchObject({ ok: false, kind: 'cut' });
    const fork = await signCheckpoint({ chainId: 'c', seq: 2, hash: 'e'.repeat(64), time: 't' }, keyring);
    expect((await compare(ledger, [source(fork)], () => keyring.jwks()))[0]).toMatchObject({ ok: false, kind: 'forked' });
  });
});

describe('createUpstreamGuard', () => {
  it('refuses with AUDIT_UPSTREAM_AHEAD once upstream is ahead, and keeps refusing when upstream turns unreachable', async () => {
    const { ledger } = await setup(2);
    let reachable = true;
    const source: UpstreamSource = {
      name: 'up',
      head: async () => {
        if (!reachable) throw new Error('down');
        return { seq: 7, hash: 'a'.repeat(64) };
      },
    };
    const refusals: string[] = [];
    const guard = createUpstreamGuard(() => compare(ledger, [source]), (e) => refusals.push(e.code));
    expect(guard.refusal()).toBeUndefined();
    await guard.refresh();
    expect(guard.refusal()).toMatchObject({ code: 'AUDIT_UPSTREAM_AHEAD', status: 503 });
    reachable = false;
    await guard.refresh();
    expect(guard.refusal()).toMatchObject({ code: 'AUDIT_UPSTREAM_AHEAD' });
    expect(refusals).toEqual(['AUDIT_UPSTREAM_AHEAD']);
  });
});
