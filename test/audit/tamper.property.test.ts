import { fc, test as propTest } from '@fast-check/vitest';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openKeyring, openLedger, openLedgerReader, signCheckpoint, verifyLedger, type Checkpoint } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
const clock = fixedClock(Date.UTC(2026, 10, 1));

/** A real ledger file with `count` entries and a signed checkpoint over its head. */
async function ledgerFile(count: number) {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId: 'prop', clock });
  for (let i = 1; i <= count; i += 1) ledger.append(sampleEntry(i));
  const keyring = await openKeyring(`${tmp.dir}/keys`, clock);
  const head = ledger.head();
  const cp = await signCheckpoint({ chainId: 'prop', seq: head.seq, hash: head.hash, time: '2026-11-01T00:00:00.000Z' }, keyring);
  ledger.appendCheckpoint(cp);
  ledger.close();
  cleanups.push(tmp.cleanup);
  return { path, keyring, cp };
}

/** Runs tampering SQL behind the ledger's back, triggers dropped first. */
function raw(path: string, work: (db: Database.Database) => void) {
  const db = new Database(path);
  try {
    db.exec('DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete; DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;');
    db.transaction(() => work(db))();
  } finally {
    db.close();
  }
}

async function verify(path: string, keys: { keys: object[] }, checkpoints?: Checkpoint[]) {
  const reader = openLedgerReader(path);
  try {
    return await verifyLedger({ read: reader.read, checkpoints: checkpoints ?? reader.checkpoints(), keys: keys as never, chainId: 'prop' });
  } finally {
    reader.close();
  }
}

type Row = { seq: number; chain_id: string; prev_hash: string; hash: string; body: string };
const rowAt = (db: Database.Database, seq: number) => db.prepare<[number], Row>('SELECT * FROM audit_entries WHERE seq = ?').get(seq)!;
const columns = ['chain_id', 'prev_hash', 'hash', 'body'] as const;

const arbCount = fc.integer({ min: 2, max: 30 });

describe('verifyLedger over random tampering', () => {
  propTest.prop([arbCount], { numRuns: 20 })('never reports an untouched ledger', async (count) => {
    const { path, keyring } = await ledgerFile(count);
    expect(await verify(path, keyring.jwks())).toMatchObject({ ok: true, entries: count });
  });

  propTest.prop([arbCount, fc.nat(), fc.constantFrom(...columns), fc.nat(), fc.integer({ min: 1, max: 127 })], { numRuns: 60 })(
    'reports a changed byte in any column of any row as modified, at that seq',
    async (count, pick, column, at, xor) => {
      const { path, keyring } = await ledgerFile(count);
      const seq = (pick % count) + 1;
      raw(path, (db) => {
        const value = Buffer.from(rowAt(db, seq)[column], 'utf8');
        const i = at % value.length;
        value[i] = (value[i]! ^ xor) & 0x7f || 0x21;
        db.prepare(`UPDATE audit_entries SET ${column} = ? WHERE seq = ?`).run(value.toString('utf8'), seq);
      });
      const report = await verify(path, keyring.jwks());
      expect(report.failure).toMatchObject({ seq, kind: 'modified' });
    },
  );

  propTest.prop([arbCount, fc.nat()], { numRuns: 30 })('reports a seq moved past the head as modified at that seq', async (count, pick) => {
    const { path, keyring } = await ledgerFile(count);
    const seq = (pick % count) + 1;
    raw(path, (db) => db.prepare('UPDATE audit_entries SET seq = ? WHERE seq = ?').run(count + 100, seq));
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ seq, kind: 'modified' });
  });

  propTest.prop([arbCount, fc.nat(), fc.boolean()], { numRuns: 30 })('reports a deleted row as deleted at its seq (renumbered or not)', async (count, pick, renumber) => {
    const { path, keyring } = await ledgerFile(count);
    const seq = (pick % (count - 1)) + 1; // not the last: that is truncation
    raw(path, (db) => {
      db.prepare('DELETE FROM audit_entries WHERE seq = ?').run(seq);
      if (renumber) {
        for (let s = seq + 1; s <= count; s += 1) db.prepare('UPDATE audit_entries SET seq = ? WHERE seq = ?').run(s - 1, s);
      }
    });
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ seq, kind: 'deleted' });
  });

  propTest.prop([arbCount, fc.nat(), fc.nat()], { numRuns: 30 })('reports an inserted row as inserted at its position', async (count, pick, source) => {
    const { path, keyring } = await ledgerFile(count);
    const seq = (pick % count) + 1;
    raw(path, (db) => {
      const copy = rowAt(db, (source % count) + 1);
      for (let s = count; s >= seq; s -= 1) db.prepare('UPDATE audit_entries SET seq = ? WHERE seq = ?').run(s + 1, s);
      db.prepare('INSERT INTO audit_entries (seq, chain_id, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)').run(seq, copy.chain_id, copy.prev_hash, 'f'.repeat(64), copy.body);
    });
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ seq, kind: 'inserted' });
  });

  propTest.prop([arbCount, fc.nat()], { numRuns: 30 })('reports two swapped rows as reordered at the first', async (count, pick) => {
    const { path, keyring } = await ledgerFile(count);
    const seq = (pick % (count - 1)) + 1;
    raw(path, (db) => {
      const a = rowAt(db, seq);
      const b = rowAt(db, seq + 1);
      const set = db.prepare('UPDATE audit_entries SET chain_id = ?, prev_hash = ?, hash = ?, body = ? WHERE seq = ?');
      db.prepare('UPDATE audit_entries SET hash = ? WHERE seq = ?').run('x', seq); // free the unique hash
      set.run(b.chain_id, b.prev_hash, b.hash + '_', b.body, seq);
      set.run(a.chain_id, a.prev_hash, a.hash, a.body, seq + 1);
      db.prepare('UPDATE audit_entries SET hash = ? WHERE seq = ?').run(b.hash, seq);
    });
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ seq, kind: 'reordered' });
  });

  propTest.prop([arbCount, fc.nat()], { numRuns: 30 })('reports a cut tail as truncated against the signed checkpoint, and not without it', async (count, pick) => {
    const { path, keyring } = await ledgerFile(count);
    const keep = pick % count; // 0..count-1 rows survive
    raw(path, (db) => db.prepare('DELETE FROM audit_entries WHERE seq > ?').run(keep));
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ seq: keep + 1, kind: 'truncated' });
    expect((await verify(path, keyring.jwks(), [])).ok).toBe(true);
  });
});

describe('checkpoints', () => {
  it('rejects a checkpoint whose stored hash was edited as bad_signature', async () => {
    const { path, keyring } = await ledgerFile(5);
    raw(path, (db) => db.prepare("UPDATE checkpoints SET hash = replace(hash, substr(hash, 1, 1), 'z')").run());
    expect((await verify(path, keyring.jwks())).failure).toMatchObject({ kind: 'bad_signature', seq: 5 });
  });

  it('rejects a checkpoint signed by a key nobody published as unknown_key, and a forged one as bad_signature', async () => {
    const { path, keyring, cp } = await ledgerFile(5);
    const otherDir = makeTempDir();
    cleanups.push(otherDir.cleanup);
    const other = await openKeyring(otherDir.dir, clock);
    const resigned = await signCheckpoint({ chainId: 'prop', seq: cp.seq, hash: cp.hash, time: cp.time }, other);
    expect((await verify(path, keyring.jwks(), [resigned])).failure).toMatchObject({ kind: 'unknown_key' });
    const [h, p] = resigned.jws.split('.');
    const forged = { ...cp, jws: `${h!.replace(/./, (c) => c)}.${p}.${cp.jws.split('.')[2]}` };
    const sameKid = `${cp.jws.split('.')[0]}.${p}.${resigned.jws.split('.')[2]}`;
    expect((await verify(path, keyring.jwks(), [{ ...cp, jws: sameKid }])).failure).toMatchObject({ kind: 'bad_signature' });
    expect(forged.jws).not.toBe(cp.jws);
  });

  it('keeps old checkpoints valid after a key rotation', async () => {
    const { path, keyring } = await ledgerFile(3);
    await keyring.rotate();
    expect(keyring.jwks().keys).toHaveLength(2);
    expect(await verify(path, keyring.jwks())).toMatchObject({ ok: true, checkpoints: { checked: 1 } });
  });
});
