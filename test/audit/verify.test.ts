import { fc, test as propTest } from '@fast-check/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger, openLedgerReader, verifyChain, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry, tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function ledgerWith(count: number): { ledger: Ledger; path: string } {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId: 'test', clock: fixedClock(Date.UTC(2026, 5, 1)) });
  for (let i = 1; i <= count; i += 1) ledger.append(sampleEntry(i));
  cleanups.push(() => {
    ledger.close();
    tmp.cleanup();
  });
  return { ledger, path };
}

async function verifyFile(path: string, trusted?: Array<{ seq: number; hash: string }>) {
  const reader = openLedgerReader(path);
  try {
    return await verifyChain(reader.read, { batchSize: 7, ...(trusted ? { trusted } : {}) });
  } finally {
    reader.close();
  }
}

describe('verifyChain', () => {
  it('reports ok with the head for an untouched ledger', async () => {
    const { ledger, path } = ledgerWith(20);
    const report = await verifyFile(path);
    expect(report).toMatchObject({ ok: true, entries: 20, chainId: 'test', head: ledger.head() });
    expect(report.failure).toBeUndefined();
  });

  it('reports ok for an empty ledger', async () => {
    const { path } = ledgerWith(0);
    expect(await verifyFile(path)).toMatchObject({ ok: true, entries: 0, head: { seq: 0 } });
  });

  it.each([
    { name: 'a byte of the body', sql: "UPDATE audit_entries SET body = replace(body, 'change 5', 'change 6') WHERE seq = ?", kind: 'modified' },
    { name: 'the stored hash', sql: "UPDATE audit_entries SET hash = substr(hash, 2) || '0' WHERE seq = ?", kind: 'modified' },
    { name: 'the prev_hash column', sql: "UPDATE audit_entries SET prev_hash = substr(prev_hash, 2) || '0' WHERE seq = ?", kind: 'modified' },
    { name: 'the body, re-serialized non-canonically', sql: "UPDATE audit_entries SET body = ' ' || body WHERE seq = ?", kind: 'modified' },
  ])('reports exactly the seq whose row was changed: $name', async ({ sql, kind }) => {
    const { path } = ledgerWith(9);
    expect(tamper(path, sql, 5)).toBe(1);
    const report = await verifyFile(path);
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', seq: 5, kind });
    expect(report.head.seq).toBe(4);
  });

  it('reports a deleted row at the missing seq', async () => {
    const { path } = ledgerWith(9);
    tamper(path, 'DELETE FROM audit_entries WHERE seq = 4');
    expect((await verifyFile(path)).failure).toMatchObject({ seq: 4, kind: 'deleted' });
  });

  it('reports a rewritten row whose hash was recomputed by the next link', async () => {
    // An attacker who recomputes the edited row's own hash still breaks the next row's prev_hash.
    const { ledger, path } = ledgerWith(6);
    const rows = ledger.rowsAfter(0, 10);
    const edited = rows[2]!.body.replace('change 3', 'change X');
    const { chainHash } = await import('../../src/audit/index.js');
    tamper(path, 'UPDATE audit_entries SET body = ?, hash = ? WHERE seq = 3', edited, chainHash(rows[2]!.prev_hash, edited));
    expect((await verifyFile(path)).failure).toMatchObject({ seq: 4, kind: 'modified' });
  });

  it('reports truncation only against a trusted head', async () => {
    const { ledger, path } = ledgerWith(8);
    const trusted = ledger.head();
    tamper(path, 'DELETE FROM audit_entries WHERE seq > 5');
    expect((await verifyFile(path)).ok).toBe(true);
    expect((await verifyFile(path, [trusted])).failure).toMatchObject({ seq: 6, kind: 'truncated' });
  });

  propTest.prop([fc.integer({ min: 1, max: 25 }), fc.nat(), fc.integer({ min: 1, max: 255 })], { numRuns: 30 })(
    'reports an edit to any byte of any row at that seq',
    async (count, pick, xor) => {
      const { ledger, path } = ledgerWith(count);
      const seq = (pick % count) + 1;
      const row = ledger.rowsAfter(seq - 1, 1)[0]!;
      const bytes = Buffer.from(row.body, 'utf8');
      const at = pick % bytes.length;
      bytes[at] = bytes[at]! ^ xor;
      tamper(path, 'UPDATE audit_entries SET body = ? WHERE seq = ?', bytes.toString('latin1'), seq);
      const report = await verifyFile(path);
      expect(report.ok).toBe(false);
      expect(report.failure?.seq).toBe(seq);
    },
  );
});
