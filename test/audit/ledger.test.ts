import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH, openLedger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { openTokenStore } from '../../src/timestamp/index.js';
import { auditEntryBodySchema } from '../../src/audit/entry-schema.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempLedger(chainId = 'test') {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId, clock: fixedClock(Date.UTC(2026, 0, 2, 3, 4, 5)) });
  cleanups.push(() => {
    ledger.close();
    tmp.cleanup();
  });
  return { ledger, path };
}

describe('openLedger', () => {
  it('chains entries: the first links to 64 zeros, each hash covers prev_hash and the canonical body', () => {
    const { ledger } = tempLedger();
    const first = ledger.append(sampleEntry(1));
    const second = ledger.append(sampleEntry(2));
    expect(first).toMatchObject({ seq: 1, prev_hash: GENESIS_HASH, chain_id: 'test', timestamp_utc: '2026-01-02T03:04:05.000Z' });
    expect(second).toMatchObject({ seq: 2, prev_hash: first.hash });
    const { hash, ...body } = second;
    expect(hash).toBe(chainHash(first.hash, canonicalJson(body)));
    expect(ledger.head()).toEqual({ seq: 2, hash: second.hash });
  });

  it('stores the body as canonical JSON, exactly the bytes that were hashed', () => {
    const { ledger } = tempLedger();
    const entry = ledger.append(sampleEntry(7));
    const [row] = ledger.rowsAfter(0, 10);
    expect(row!.body).toBe(canonicalJson(JSON.parse(row!.body)));
    expect(chainHash(row!.prev_hash, row!.body)).toBe(entry.hash);
  });

  it.each([
    { name: 'UPDATE', sql: "UPDATE audit_entries SET body = '{}' WHERE seq = 1" },
    { name: 'DELETE', sql: 'DELETE FROM audit_entries WHERE seq = 1' },
  ])('rejects $name through a raw connection (append-only triggers)', ({ sql }) => {
    const { ledger, path } = tempLedger();
    ledger.append(sampleEntry(1));
    const raw = new Database(path);
    try {
      expect(() => raw.prepare(sql).run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
  });

  it('rejects opening a file bound to another chain id', () => {
    const { ledger, path } = tempLedger('chain-a');
    ledger.append(sampleEntry(1));
    expect(() => openLedger({ path, chainId: 'chain-b', clock: fixedClock(0) })).toThrow(expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }));
  });

  it('never forks when two connections append to one file', () => {
    const { ledger, path } = tempLedger();
    const other = openLedger({ path, chainId: 'test', clock: fixedClock(0) });
    cleanups.push(() => other.close());
    for (let i = 0; i < 50; i += 1) (i % 2 ? ledger : other).append(sampleEntry(i));
    const rows = ledger.rowsAfter(0, 100);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    rows.slice(1).forEach((r, i) => expect(r.prev_hash).toBe(rows[i]!.hash));
  });

  it('records a capped stand-in, never the entry, when a value JSON cannot carry is in it', () => {
    const { ledger } = tempLedger();
    const written = ledger.append(sampleEntry(1, { new_state: { x: Number.NaN } }));
    expect(written).toMatchObject({ seq: 1, new_state: { omitted: { excerpt: '{"x":NaN}' } }, unrecorded: { error_code: 'AUDIT_ENTRY_UNRECORDABLE' } });
    expect(written.unrecorded!.message).toMatch(/non-finite number \(NaN\) at \$\.new_state\.x/);
  });

  it('refuses a commit of entries that did not go through prepare', () => {
    const { ledger } = tempLedger();
    const forged = { entry: sampleEntry(1, { new_state: { x: Number.NaN } }), unrecorded: null } as unknown as Parameters<typeof ledger.commit>[0][number];
    expect(() => ledger.commit([forged])).toThrow(TypeError);
    expect(ledger.head().seq).toBe(0);
  });

  it('persists sink cursors and never moves them backwards', () => {
    const { ledger } = tempLedger();
    ledger.setSinkCursor('jsonl', 5);
    ledger.setSinkCursor('jsonl', 3);
    expect(ledger.sinkCursor('jsonl')).toBe(5);
    expect(ledger.sinkCursor('other')).toBe(0);
  });

  it('writes a moved cursor with the next commit, in the same transaction, not a commit of its own', () => {
    const { ledger, path } = tempLedger();
    const stored = (sink: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare<[string], { acked_seq: number }>('SELECT acked_seq FROM sink_cursors WHERE sink = ?').get(sink)?.acked_seq ?? 0;
      } finally {
        db.close();
      }
    };
    ledger.append(sampleEntry(1));
    ledger.setSinkCursor('jsonl', 1);
    expect(ledger.sinkCursor('jsonl')).toBe(1); // the replicator sees it at once
    expect(stored('jsonl')).toBe(0); // not on disk yet
    ledger.append(sampleEntry(2));
    expect(stored('jsonl')).toBe(1); // rode along with entry 2's commit
  });

  it('writes a moved cursor within the flush interval when no commit comes, and on close', async () => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    const path = `${tmp.dir}/ledger.sqlite`;
    const ledger = openLedger({ path, chainId: 'test', clock: fixedClock(0), cursorFlushMs: 20 });
    ledger.setSinkCursor('jsonl', 7);
    await new Promise((r) => setTimeout(r, 100));
    ledger.setSinkCursor('pg', 9);
    ledger.close(); // within the interval: close writes it
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT sink, acked_seq FROM sink_cursors ORDER BY sink').all()).toEqual([
        { sink: 'jsonl', acked_seq: 7 },
        { sink: 'pg', acked_seq: 9 },
      ]);
    } finally {
      db.close();
    }
  });

  it('stores a seal token in the commit of the entries it covers, and a failing seal never fails the commit', () => {
    const { ledger, path } = tempLedger();
    openTokenStore(path).close(); // the timestamp stage's table
    const token = (seq: number, hash: string) => ({ coversSeq: seq, coversHash: hash, genTime: '2026-01-02T03:04:05.000Z', tsa: 'embedded', token: Buffer.from([1, 2, 3]) });
    ledger.sealWith((committed) => (committed.length === 2 ? token(committed[1]!.seq, committed[1]!.hash) : undefined));
    const [, second] = ledger.appendMany([sampleEntry(1), sampleEntry(2)]);
    ledger.append(sampleEntry(3)); // the seal declines a commit of one
    ledger.sealWith(() => {
      throw new Error('the TSA key is gone');
    });
    expect(ledger.append(sampleEntry(4)).seq).toBe(4);
    ledger.sealWith(() => token(2, second!.hash)); // a token that breaks the table's UNIQUE(covers_seq)
    expect(ledger.append(sampleEntry(5)).seq).toBe(5);
    const store = openTokenStore(path);
    try {
      expect(store.all().map((t) => [t.coversSeq, t.coversHash])).toEqual([[2, second!.hash]]);
    } finally {
      store.close();
    }
    expect(ledger.head().seq).toBe(5);
  });

  it('keeps a cursor pending when the commit it rode along with is rolled back', () => {
    const { ledger, path } = tempLedger();
    ledger.append(sampleEntry(1));
    ledger.setSinkCursor('jsonl', 1);
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    other.prepare('BEGIN IMMEDIATE').run(); // holds the write lock: the next commit fails
    try {
      expect(() => ledger.append(sampleEntry(2))).toThrow();
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    expect(ledger.sinkCursor('jsonl')).toBe(1);
    ledger.append(sampleEntry(2));
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT acked_seq FROM sink_cursors').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });
});

describe('the published entry schema', () => {
  it('docs/audit-entry.schema.json is generated from the schema every entry is checked against', async () => {
    const { readFileSync } = await import('node:fs');
    const { auditEntryJsonSchema } = await import('../../src/audit/entry-schema.js');
    const published = JSON.parse(readFileSync(new URL('../../docs/audit-entry.schema.json', import.meta.url), 'utf8'));
    expect(published, 'run: npm run build && node scripts/write-entry-schema.mjs').toEqual(auditEntryJsonSchema());
  });

  it.each([
    { name: 'an empty actor id', overrides: { actor: { id: '', display_name: '', auth_method: 'jwt', roles: [] } } },
    { name: 'an unknown auth method', overrides: { actor: { id: 'a', display_name: 'A', auth_method: 'password', roles: [] } } },
    { name: 'a body digest that is not hex', overrides: { request: { method: 'POST', path: '/x', body_sha256: 'nope' } } },
    { name: 'an extra field', overrides: { surprise: true } },
  ])('records a schema-valid stand-in instead of an entry with $name', ({ overrides }) => {
    const { ledger } = tempLedger();
    const written = ledger.append(sampleEntry(1, overrides as never));
    expect(written).toMatchObject({ seq: 1, decision: { allow: false, error_code: 'AUDIT_ENTRY_UNRECORDABLE' }, unrecorded: { message: expect.stringMatching(/schema/) } });
    expect(written).not.toHaveProperty('surprise');
    const { hash: _hash, ...body } = written;
    expect(auditEntryBodySchema.safeParse(body).success).toBe(true);
  });
});
