import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, GetObjectRetentionCommand, DeleteObjectCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  archiveLedger,
  archiveSealedEntry,
  openArchiveStore,
  parseSegment,
  probeArchiveLock,
  verifyArchive,
  type ArchiveStore,
  type SegmentSource,
} from '../../src/archive/index.js';
import { openKeyring, openLedger, openLedgerReader, signCheckpoint, type Keyring, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { openTokenStore } from '../../src/timestamp/index.js';
import { sampleEntry, tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';
import { startTestFlaggate } from '../support/flaggate.js';
import { startVersityGw, type VersityGw } from '../support/versitygw.js';

// Near the real time: the store refuses a retention date already past by its own clock.
const clock = fixedClock(Math.floor(Date.now() / 1000) * 1000);
const archiver = { id: 'ops', display_name: 'ops', auth_method: 'host' as const, roles: [] };
const temp = makeTempDir('flaggate-archive-test-');
let gw: VersityGw;

beforeAll(async () => {
  gw = await startVersityGw();
  await gw.createBucket('ledger-archive', { objectLock: true });
  await gw.createBucket('no-lock', { objectLock: false });
}, 30_000);

afterAll(async () => {
  await gw?.stop();
  temp.cleanup();
});

function store(bucket = 'ledger-archive'): ArchiveStore {
  return openArchiveStore({ bucket, endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: gw.root });
}

interface Chain {
  path: string;
  ledger: Ledger;
  keyring: Keyring;
  source: SegmentSource;
  /** Appends `n` entries and a signed checkpoint over the new head. */
  grow(n: number): Promise<void>;
}

async function chain(name: string): Promise<Chain> {
  const path = join(temp.dir, `${name}.sqlite`);
  const ledger = openLedger({ path, chainId: name, clock });
  const keyring = await openKeyring(join(temp.dir, `${name}-keys`), clock);
  openTokenStore(path).close(); // the token table exists before the reader looks for it, as in a sidecar's ledger
  const reader = openLedgerReader(path);
  let n = 0;
  return {
    path,
    ledger,
    keyring,
    source: { ...reader, chainId: name },
    async grow(count) {
      for (let i = 0; i < count; i += 1) ledger.append(sampleEntry((n += 1)));
      const head = ledger.head();
      ledger.appendCheckpoint(await signCheckpoint({ chainId: name, seq: head.seq, hash: head.hash, time: '2026-12-01T00:00:00.000Z' }, keyring));
    },
  };
}

const run = (c: Chain, s: ArchiveStore) =>
  archiveLedger({ source: c.source, append: (e) => c.ledger.append(e), store: s, prefix: 'flaggate/', retentionDays: 30, clock, actor: archiver, bundleFiles: [] });

describe('archiveLedger against versitygw with Object Lock', () => {
  it('archives the segment the newest checkpoint closes, reads it back, and records bucket, key, version id, retention and digest in the chain', async () => {
    const c = await chain('seal');
    await c.grow(12);
    const tokens = openTokenStore(c.path);
    tokens.add({ coversSeq: 12, coversHash: c.ledger.head().hash, genTime: '2026-12-01T00:00:01Z', tsa: 'test', token: Buffer.from('a DER token') });
    tokens.close();
    const s = store();
    const first = await run(c, s);
    expect(first.archived).toMatchObject({ bucket: 'ledger-archive', key: 'flaggate/seal/000000000001-000000000012.json', from_seq: 1, to_seq: 12, retention_mode: 'COMPLIANCE' });
    expect(first.archived!.retain_until).toBe(new Date(clock.now() + 30 * 86_400_000).toISOString());
    const recorded = c.ledger.entriesAfter(12, 10);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ entry_type: 'archive.sealed', actor: { id: 'ops' }, new_state: first.archived });

    const object = await gw.client().send(new GetObjectCommand({ Bucket: 'ledger-archive', Key: first.archived!.key, VersionId: first.archived!.version_id }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(first.archived!.sha256);
    const segment = parseSegment(bytes);
    expect(segment.rows.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(segment.checkpoints.map((cp) => cp.seq)).toEqual([12]);
    expect(segment.tokens).toEqual([{ covers_seq: 12, covers_hash: segment.head_hash, token_der_base64: Buffer.from('a DER token').toString('base64') }]);
    expect(segment.bundles).toEqual([{ sha256: 'ab'.repeat(32), tarball_base64: null }]);
    const retention = await gw.client().send(new GetObjectRetentionCommand({ Bucket: 'ledger-archive', Key: first.archived!.key, VersionId: first.archived!.version_id }));
    expect(retention.Retention).toMatchObject({ Mode: 'COMPLIANCE' });

    // No checkpoint since: nothing to seal. The next one closes a segment that carries the archive entry.
    expect((await run(c, s)).archived).toBeNull();
    await c.grow(3);
    const second = await run(c, s);
    expect(second.archived).toMatchObject({ from_seq: 13, to_seq: 16 });
    expect(await verifyArchive(c.source, s)).toMatchObject({ ok: true, archivedThrough: 16, segments: [{ ok: true }, { ok: true }] });
    s.close();
  });

  it.each([
    { maxSegmentEntries: 12, want: [[1, 10], [11, 15]] },
    { maxSegmentEntries: 3, want: [[1, 5], [6, 10], [11, 15]] }, // no checkpoint within the limit: the first one past it
  ])('catches up a long unarchived stretch in segments of at most $maxSegmentEntries entries, each closed at a checkpoint', async ({ maxSegmentEntries, want }) => {
    const c = await chain(`catch-up-${maxSegmentEntries}`);
    for (let i = 0; i < 3; i += 1) await c.grow(5);
    const s = store();
    const ranges: number[][] = [];
    for (;;) {
      const { archived } = await archiveLedger({ source: c.source, append: (e) => c.ledger.append(e), store: s, prefix: 'flaggate/', retentionDays: 1, clock, actor: archiver, bundleFiles: [], maxSegmentEntries });
      if (!archived) break;
      ranges.push([archived.from_seq, archived.to_seq]);
    }
    expect(ranges).toEqual(want);
    expect(await verifyArchive(c.source, s)).toMatchObject({ ok: true, archivedThrough: 15 });
    s.close();
  });

  it('refuses with 403, even to the root account, to shorten the retention of or delete an archived version, and the archive still verifies', async () => {
    const c = await chain('attack');
    await c.grow(5);
    const s = store();
    const { archived } = await run(c, s);
    const root = gw.client();
    const where = { Bucket: 'ledger-archive', Key: archived!.key, VersionId: archived!.version_id };
    await expect(
      root.send(new PutObjectRetentionCommand({ ...where, BypassGovernanceRetention: true, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 60_000) } })),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    await expect(root.send(new PutObjectRetentionCommand({ ...where, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(archived!.retain_until) } }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    await expect(root.send(new DeleteObjectCommand({ ...where, BypassGovernanceRetention: true }))).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    // A delete without a version id only stacks a delete marker: the locked version stays, and verify fetches by version.
    await root.send(new DeleteObjectCommand({ Bucket: 'ledger-archive', Key: archived!.key }));
    expect(await verifyArchive(c.source, s)).toMatchObject({ ok: true, archivedThrough: 5 });
    s.close();
  });

  it('the lock probe reports that the store refused, with 403, to shorten or delete a locked version', async () => {
    const s = store();
    const probe = await probeArchiveLock(s, { prefix: 'flaggate/', chainId: 'probe', clock });
    expect(probe).toMatchObject({
      ok: true,
      shortenRetention: { refused: true, status: 403, code: 'AccessDenied' },
      deleteVersion: { refused: true, status: 403, code: 'AccessDenied' },
    });
    s.close();
  });

  it('the lock probe reports ARCHIVE_NOT_LOCKED when a store lets either through', async () => {
    const s = store();
    const yielding: ArchiveStore = { ...s, tryDeleteVersion: async () => ({ refused: false, status: null, code: null }) };
    const probe = await probeArchiveLock(yielding, { prefix: 'flaggate/', chainId: 'probe-yield', clock });
    expect(probe).toMatchObject({ ok: false, shortenRetention: { refused: true }, failure: { code: 'ARCHIVE_NOT_LOCKED' } });
    expect(probe.failure!.message).toContain('deleting its version (allowed)');
    s.close();
  });

  it('rejects with ARCHIVE_NOT_LOCKED, and records nothing, on a bucket without Object Lock', async () => {
    const c = await chain('unlocked');
    await c.grow(4);
    const s = store('no-lock');
    await expect(run(c, s)).rejects.toMatchObject({ code: 'ARCHIVE_NOT_LOCKED' });
    expect(c.ledger.head().seq).toBe(4);
    await expect(probeArchiveLock(s, { prefix: 'flaggate/', chainId: 'unlocked', clock })).rejects.toMatchObject({ code: 'ARCHIVE_NOT_LOCKED' });
    s.close();
  });
});

describe('verifyArchive', () => {
  it('reports a local entry edited after it was archived, at its seq (ARCHIVE_MISMATCH)', async () => {
    const c = await chain('edited');
    await c.grow(8);
    const s = store();
    await run(c, s);
    tamper(c.path, "UPDATE audit_entries SET body = replace(body, 'change 6', 'change 7') WHERE seq = 6");
    const report = await verifyArchive(c.source, s);
    expect(report).toMatchObject({ ok: false, archivedThrough: 0, failure: { code: 'ARCHIVE_MISMATCH', details: { seq: 6 } } });
    s.close();
  });

  // The records are in the chain being checked: what the locked store holds is what a cut cannot take back.
  it('reports a chain cut below an archived segment, record and all, from what the store holds', async () => {
    const c = await chain('cut-below');
    await c.grow(8);
    const s = store();
    await run(c, s);
    const where = { prefix: 'flaggate/', chainId: 'cut-below' };
    expect(await verifyArchive(c.source, s, where)).toMatchObject({ ok: true, archivedThrough: 8 });
    tamper(c.path, 'DELETE FROM audit_entries WHERE seq > 4');
    // Without the records, the chain alone names no segment to check.
    expect(await verifyArchive(c.source, s)).toMatchObject({ ok: true, archivedThrough: 0, segments: [] });
    const report = await verifyArchive(c.source, s, where);
    expect(report).toMatchObject({ ok: false, segments: [{ key: 'flaggate/cut-below/000000000001-000000000008.json', recordedAt: 0, ok: false }], failure: { code: 'ARCHIVE_MISMATCH', details: { seq: 5 } } });
    s.close();
  });

  it('verifies a segment two runs at once archived and recorded twice, each copy checked whole', async () => {
    const c = await chain('twice');
    await c.grow(6);
    const s = store();
    const [a, b] = await Promise.all([run(c, s), run(c, s)]);
    expect(a.archived?.to_seq).toBe(b.archived?.to_seq);
    await c.grow(4);
    await run(c, s);
    const report = await verifyArchive(c.source, s, { prefix: 'flaggate/', chainId: 'twice' });
    expect(report).toMatchObject({ ok: true });
    expect(report.segments.filter((g) => g.recordedAt > 0)).toHaveLength(3);
    // A copy that differs still fails.
    c.ledger.append(archiveSealedEntry({ ...a.archived!, sha256: '0'.repeat(64) }, archiver));
    expect((await verifyArchive(c.source, s)).failure).toMatchObject({ code: 'ARCHIVE_MISMATCH' });
    s.close();
  });

  it('refuses to archive a chain rolled back and grown again: the store holds another history of it (ARCHIVE_MISMATCH)', async () => {
    const first = await chain('rolled-back');
    await first.grow(8);
    const s = store();
    await run(first, s);
    // The same chain with another history, as a backup restored over it and grown again leaves it
    // (its earlier rows copied: every entry carries its own event id, so these differ from seq 1).
    const path = join(temp.dir, 'rolled-back-again.sqlite');
    const ledger = openLedger({ path, chainId: 'rolled-back', clock });
    openTokenStore(path).close();
    for (let n = 1; n <= 10; n += 1) ledger.append(sampleEntry(n));
    const head = ledger.head();
    ledger.appendCheckpoint(await signCheckpoint({ chainId: 'rolled-back', seq: head.seq, hash: head.hash, time: '2026-12-01T00:00:00.000Z' }, first.keyring));
    const again: Chain = { ...first, path, ledger, source: { ...openLedgerReader(path), chainId: 'rolled-back' } };
    await expect(run(again, s)).rejects.toMatchObject({ code: 'ARCHIVE_MISMATCH', message: expect.stringContaining('which no entry records') });
    expect(again.ledger.entriesAfter(0, 100).filter((e) => e.entry_type === 'archive.sealed')).toHaveLength(0);
    s.close();
  });

  it('reports a recorded version the store does not hold (ARCHIVE_MISSING)', async () => {
    const c = await chain('phantom');
    await c.grow(3);
    const s = store();
    const { archived } = await run(c, s);
    c.ledger.append(archiveSealedEntry({ ...archived!, version_id: '01ZZZZZZZZZZZZZZZZZZZZZZZZ', from_seq: 4, to_seq: 4 }, archiver));
    const report = await verifyArchive(c.source, s);
    expect(report).toMatchObject({ ok: false, archivedThrough: 3, segments: [{ ok: true }, { ok: false, failure: { code: 'ARCHIVE_MISSING' } }] });
    s.close();
  });
});

describe('flaggate archive and flaggate verify --archive', () => {
  const cli = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });

  it('archives a sidecar ledger, verifies it against the archive (exit 0), reports the lock refusals, and fails verify against a store without the segment (exit 1)', async () => {
    const app = await startTestFlaggate();
    const token = await app.token('riley', 'release_engineer');
    for (const action of ['enable', 'disable']) {
      const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'archive test', 'x-flaggate-ticket': 'CHG-9' } });
      expect(res.status).toBeLessThan(300);
    }
    await app.close(); // a graceful stop seals the tail with a token and a checkpoint, and keeps the data dir
    const env = {
      FLAGGATE_DATA_DIR: app.dataDir,
      FLAGGATE_ARCHIVE_BUCKET: 'ledger-archive',
      FLAGGATE_ARCHIVE_ENDPOINT: gw.endpoint,
      FLAGGATE_ARCHIVE_RETENTION_DAYS: '7',
      FLAGGATE_ARCHIVE_ACCESS_KEY_ID: gw.root.accessKeyId,
      FLAGGATE_ARCHIVE_SECRET_ACCESS_KEY: gw.root.secretAccessKey,
    };
    const archived = await cli(['archive', '--probe-lock'], env);
    expect(archived.code, archived.stderr).toBe(0);
    const out = JSON.parse(archived.stdout) as { archived: Array<{ key: string; version_id: string; from_seq: number }>; probe: unknown; covered: boolean };
    expect(out.probe).toMatchObject({ ok: true, shortenRetention: { status: 403, code: 'AccessDenied' }, deleteVersion: { status: 403, code: 'AccessDenied' } });
    expect(out).toMatchObject({ archived: [{ from_seq: 1 }], covered: true });

    const verified = await cli(['verify', '--db', join(app.dataDir, 'ledger.sqlite'), '--archive'], env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, archive: { ok: true, bucket: 'ledger-archive', segments: [{ ok: true, versionId: out.archived[0]!.version_id }] } });

    const elsewhere = await cli(['verify', '--db', join(app.dataDir, 'ledger.sqlite'), '--archive'], { ...env, FLAGGATE_ARCHIVE_BUCKET: 'no-lock' });
    expect(elsewhere.code).toBe(1);
    expect(JSON.parse(elsewhere.stdout)).toMatchObject({ ok: false, archive: { ok: false, failure: { code: 'ARCHIVE_MISSING' } } });
    rmSync(app.dataDir, { recursive: true, force: true });
  }, 120_000);
});
