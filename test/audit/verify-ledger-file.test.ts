/**
 * `flaggate verify --db` against the copies an auditor names: what an operator who can rewrite the
 * file does to escape the comparison (deleting the file's chain binding, naming a copy that cannot
 * be read) must fail the verification, not turn the comparison off.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH, openKeyring, openLedger, openLedgerReader, signCheckpoint, verifyChain, type AuditEntry, type StoredRow } from '../../src/audit/index.js';
import { proveInWorkers } from '../../src/audit/prove-in-workers.js';
import { rowToEntry } from '../../src/audit/row-to-entry.js';
import { fixedClock, systemClock } from '../../src/clock.js';
import { createJsonlSink } from '../../src/replicate/index.js';
import { createCoverage, createEmbeddedTsa, openTokenStore, verifyTimestampToken } from '../../src/timestamp/index.js';
import { verifyLedgerFile } from '../../src/verify-ledger-file.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-verify-file-');
afterAll(() => tmp.cleanup());

/** 20 entries, checkpoints and tokens at 10 and 20, and an off-box JSON Lines copy of all of it. */
async function ledgerWithCopy(name: string): Promise<{ path: string; copy: string }> {
  const dataDir = join(tmp.dir, name);
  const path = join(dataDir, 'ledger.sqlite');
  const clock = fixedClock(Date.now() - 600_000);
  const ledger = openLedger({ path, chainId: 'audited', clock });
  const keyring = await openKeyring(join(dataDir, 'audit-keys'), systemClock);
  const tsa = createEmbeddedTsa({ dataDir, clock: systemClock });
  const store = openTokenStore(path);
  const coverage = createCoverage({ store, stamp: async (digest) => { const token = await tsa.stamp(digest); return { token, genTime: verifyTimestampToken(token, { trustAnchorsPem: tsa.trustAnchorPem() }).tstInfo.genTime }; } });
  const entries: AuditEntry[] = [];
  for (let n = 1; n <= 20; n++) {
    clock.advance(1000);
    entries.push(ledger.append(sampleEntry(n)));
  }
  for (const seq of [10, 20]) {
    ledger.appendCheckpoint(await signCheckpoint({ chainId: 'audited', seq, hash: entries[seq - 1]!.hash, time: new Date().toISOString() }, keyring));
    await coverage.cover(seq, entries[seq - 1]!.hash);
  }
  store.close();
  ledger.close();
  const copyDir = join(tmp.dir, `${name}-copy`);
  mkdirSync(copyDir);
  const copy = join(copyDir, 'audit.jsonl');
  const reader = openLedgerReader(path);
  const sink = createJsonlSink({ name: 'copy', path: copy, required: true });
  await sink.deliver(reader.rowsAfter(0, 100).map((row) => rowToEntry(row)));
  await sink.deliverCheckpoints!(reader.checkpoints());
  await sink.close();
  reader.close();
  return { path, copy };
}

/** SQL behind the ledger's back, every append-only trigger dropped. */
function rewrite(path: string, ...sql: string[]): void {
  const db = new Database(path);
  try {
    for (const { name } of db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()) db.exec(`DROP TRIGGER "${name}"`);
    for (const s of sql) db.exec(s);
  } finally {
    db.close();
  }
}

const cutTail = ['DELETE FROM audit_entries WHERE seq > 10', 'DELETE FROM checkpoints WHERE seq > 10', 'DELETE FROM timestamp_tokens WHERE covers_seq > 10'];
const verify = (path: string, upstreams?: string[]) => verifyLedgerFile({ db: path, ...(upstreams ? { upstreams } : {}), maxDelaySeconds: 3600, skewSeconds: 5 });

describe('verify --db with the copies an auditor names', () => {
  let intact: { path: string; copy: string };
  beforeAll(async () => {
    intact = await ledgerWithCopy('intact');
  }, 60_000);

  it('passes an intact file against its copy', async () => {
    expect(await verify(intact.path, [intact.copy])).toMatchObject({ ok: true, entries: 20 });
  });

  it('finds a cut tail even when the chain binding of the file is deleted too', async () => {
    const l = await ledgerWithCopy('unbound');
    rewrite(l.path, ...cutTail);
    expect(await verify(l.path, [l.copy])).toMatchObject({ ok: false, failure: { kind: 'truncated', seq: 11 } });
    rewrite(l.path, "DELETE FROM ledger_meta WHERE key = 'chain_id'");
    expect(await verify(l.path, [l.copy])).toMatchObject({ ok: false, failure: { kind: 'truncated', seq: 11 } });
    // With no copy to compare, the missing binding is itself the finding.
    expect(await verify(l.path, [])).toMatchObject({ ok: false, failure: { kind: 'wrong_chain' } });
  });

  // A walk by seq > cursor never reads a row below seq 1: each such row is counted against the chain.
  it('fails on a row inserted below seq 1, which the chain walk does not read', async () => {
    for (const seq of [0, -7]) {
      const l = await ledgerWithCopy(`below-one-${seq < 0 ? 'negative' : 'zero'}`);
      rewrite(l.path, `INSERT INTO audit_entries (seq, chain_id, prev_hash, hash, body) SELECT ${seq}, chain_id, prev_hash, hash, replace(body, 'user-', 'mallory-') FROM audit_entries WHERE seq = 1`);
      expect(await verify(l.path, [l.copy]), `seq ${seq}`).toMatchObject({ ok: false, failure: { kind: 'inserted', seq, message: expect.stringContaining('a row with a seq below 1') } });
    }
  });

  it('fails when the JSON Lines copy beside the file holds nothing of its chain (emptied)', async () => {
    const l = await ledgerWithCopy('beside');
    const beside = join(tmp.dir, 'beside', 'audit.jsonl');
    writeFileSync(beside, readFileSync(l.copy));
    expect(await verify(l.path)).toMatchObject({ ok: true });
    writeFileSync(beside, '');
    expect(await verify(l.path)).toMatchObject({ ok: false, failure: { kind: 'unchecked' } });
  });

  it('fails when a named copy cannot be read or is absent', async () => {
    const unreachable = await verify(intact.path, ['postgres://nobody:x@127.0.0.1:1/flaggate']);
    expect(unreachable).toMatchObject({ ok: false, failure: { kind: 'unchecked' } });
    expect(await verify(intact.path, [join(tmp.dir, 'no-such', 'audit.jsonl')])).toMatchObject({ ok: false, failure: { kind: 'unchecked' } });
    // One copy that answers does not vouch for another that does not.
    expect(await verify(intact.path, [intact.copy, join(tmp.dir, 'no-such', 'audit.jsonl')])).toMatchObject({ ok: false, failure: { kind: 'unchecked' } });
  });

  it('reads a JSON Lines copy whole: a hole between the entries it holds, or an entry edited in it, fails even when its head agrees', async () => {
    const l = await ledgerWithCopy('holes');
    const lines = readFileSync(l.copy, 'utf8').split('\n').filter((line) => line !== '');
    const copy = (kept: string[], torn = '') => (writeFileSync(l.copy, kept.join('\n') + '\n' + torn), l.copy);
    // Swapped for an older copy that held seq 1..3, then appended to from the cursor (seq 9 on).
    expect(await verify(l.path, [copy([...lines.slice(0, 3), ...lines.slice(8)])])).toMatchObject({ ok: false, failure: { kind: 'deleted', seq: 4 } });
    // One entry edited, its head and checkpoint left alone.
    const edited = lines.map((line, i) => (i === 6 ? line.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${'e'.repeat(64)}"`) : line));
    expect(await verify(l.path, [copy(edited)])).toMatchObject({ ok: false, failure: { kind: 'modified', seq: 7 } });
    // A line that is not an entry between entries.
    expect(await verify(l.path, [copy([...lines.slice(0, 5), 'not json', ...lines.slice(5)])])).toMatchObject({ ok: false, failure: { kind: 'modified' } });
    // What a shipper rotated away, and a last line torn by a crash, are not holes.
    expect(await verify(l.path, [copy(lines.slice(12), '{"seq":21,"tr')])).toMatchObject({ ok: true });
    expect(await verify(l.path, [copy(lines)])).toMatchObject({ ok: true, entries: 20 });
  });
});

/**
 * A file stored as UTF-16 whose every body is text whose UTF-16 bytes are the canonical JSON its
 * hash covers: read as text (by SQLite's JSON functions, exports, the console) the bodies are
 * gibberish, while their stored bytes hash right. Enough rows for the range proof in workers.
 */
function utf16Ledger(rows: number): string {
  const dir = join(tmp.dir, `utf16-${rows}`);
  mkdirSync(dir, { recursive: true });
  const template = join(dir, 'template.sqlite');
  openLedger({ path: template, chainId: 'c', clock: fixedClock(Date.UTC(2026, 5, 1)) }).close();
  const t = new Database(template, { readonly: true });
  const schema = t.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END").all();
  t.close();
  const path = join(dir, 'ledger.sqlite');
  const db = new Database(path);
  db.pragma("encoding = 'UTF-16le'");
  for (const { sql } of schema) db.exec(sql);
  db.prepare("INSERT INTO ledger_meta (key, value) VALUES ('chain_id', 'c')").run();
  const insert = db.prepare('INSERT INTO audit_entries (seq, chain_id, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)');
  let prev = GENESIS_HASH;
  db.transaction(() => {
    for (let seq = 1; seq <= rows; seq++) {
      let body = canonicalJson({ chain_id: 'c', prev_hash: prev, reason: 'approved by alice', seq, timestamp_utc: '2026-06-01T00:00:00.000Z' });
      if (Buffer.byteLength(body) % 2 === 1) body = canonicalJson({ chain_id: 'c', prev_hash: prev, reason: 'approved by alice!', seq, timestamp_utc: '2026-06-01T00:00:00.000Z' });
      const hash = chainHash(prev, body);
      insert.run(seq, 'c', prev, hash, Buffer.from(body, 'utf8').toString('utf16le'));
      prev = hash;
    }
  })();
  db.close();
  return path;
}

describe('a ledger file stored as UTF-16', () => {
  const rows = 20_000;
  let path: string;
  beforeAll(() => {
    path = utf16Ledger(rows);
  }, 60_000);

  it('is refused by verify --db and by every writer, whatever its size', async () => {
    await expect(verify(path)).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', message: expect.stringContaining('UTF-16') });
    expect(() => openLedger({ path, chainId: 'c', clock: systemClock })).toThrow(expect.objectContaining({ code: 'AUDIT_CHAIN_BROKEN' }));
    await expect(verify(utf16Ledger(3))).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN' });
  });

  it('is not proven by the range proof in workers, which hashes stored bytes: the rows are read as text instead, and fail', async () => {
    const db = new Database(path, { readonly: true });
    try {
      const read = async (after: number, limit: number) => db.prepare<[number, number], StoredRow>('SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?').all(after, limit);
      const report = await verifyChain(read, { prove: proveInWorkers(path, () => rows, { workers: 2, minRowsPerWorker: 1 }) });
      expect(report).toMatchObject({ ok: false, failure: { kind: 'modified', seq: 1 } });
    } finally {
      db.close();
    }
  }, 60_000);
});
