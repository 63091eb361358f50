import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainHash, canonicalJson } from '../../src/audit/index.js';
import { readExportedEntries, packedHex, type EntriesJob } from '../../src/audit/export-entries.js';
import { readEntriesInWorker } from '../../src/audit/export-entries-aside.js';
import { csvHeader, csvRecords } from '../../src/audit/export-format.js';
import { GENESIS_HASH, type AuditEntry } from '../../src/audit/entry.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-export-entries-');
afterAll(() => tmp.cleanup());

/** A chain of `n` entries as the export writes them: entries.jsonl and entries.csv. */
function packageOf(n: number, name: string, edit: (lines: string[]) => void = () => undefined, editCsv: (records: string[]) => void = () => undefined): EntriesJob {
  const entries: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq += 1) {
    const body = { ...sampleEntry(seq), seq, prev_hash: prev, chain_id: 'c' };
    const hash = chainHash(prev, canonicalJson(body));
    entries.push({ ...body, hash } as unknown as AuditEntry);
    prev = hash;
  }
  const lines = entries.map((e) => canonicalJson(e));
  edit(lines);
  const [entriesPath, csvPath] = [join(tmp.dir, `${name}.jsonl`), join(tmp.dir, `${name}.csv`)];
  writeFileSync(entriesPath, lines.join('\n') + '\n');
  // From the entries as the chain holds them (canonical member order), each record rendered on its
  // own: the verifier renders them in batches, and must find the same text.
  const records = entries.map((e) => csvRecords([JSON.parse(canonicalJson(e)) as AuditEntry]));
  editCsv(records);
  writeFileSync(csvPath, csvHeader() + records.join(''));
  return { entriesPath, csvPath, count: lines.length, period: { from: null, to: null }, filters: {}, digestFiles: false };
}

describe('the entries pass of verify-export', () => {
  it('packs each entry that hashes from the prev_hash it states to the hash it states, and holds the CSV to them', () => {
    const job = packageOf(30, 'plain');
    const read = readExportedEntries(job);
    expect(read).toMatchObject({ count: 30, csvListsEntries: true });
    expect(read.stop).toBeUndefined();
    expect([...read.seqs]).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(packedHex(read.prevs, 0)).toBe(GENESIS_HASH);
    expect(packedHex(read.prevs, 7)).toBe(packedHex(read.hashes, 6));
  });

  it('stops at the first entry that fails on its own, saying which checks of the chain come first', () => {
    const edited = readExportedEntries(packageOf(10, 'edited', (l) => void (l[4] = l[4]!.replace('"reason":"change 5"', '"reason":"change X"'))));
    expect(edited).toMatchObject({ count: 4, stop: { at: 4, beforeChain: false, seq: 5, failure: { kind: 'modified', seq: 5 } } });
    const upper = readExportedEntries(packageOf(10, 'upper', (l) => void (l[3] = l[3]!.replace(/"hash":"([0-9a-f]{64})"/, (_m, h: string) => `"hash":"${h.toUpperCase()}"`))));
    expect(upper.stop).toMatchObject({ at: 3, failure: { kind: 'modified' } });
    const twice = readExportedEntries(packageOf(10, 'twice', (l) => void l.splice(6, 0, l[2]!)));
    expect(twice.stop).toMatchObject({ at: 6, beforeChain: false, seq: 3, packed: true, failure: { kind: 'inserted', message: 'seq 3 is exported twice' } });
    expect(readExportedEntries(packageOf(10, 'not-entry', (l) => void (l[1] = '"x"'))).stop).toMatchObject({ at: 1, beforeChain: true, failure: { kind: 'malformed' } });
    expect(readExportedEntries(packageOf(10, 'not-json', (l) => void (l[8] = '{'))).stop).toMatchObject({ at: 8, throws: 'entries.jsonl line 9 is not JSON' });
  });

  it('takes a line written otherwise (members reordered, characters escaped, hash member first) as the same entry, and its CSV record in canonical order', () => {
    const read = readExportedEntries(
      packageOf(6, 'otherwise', (l) => {
        const e = JSON.parse(l[1]!) as Record<string, unknown>;
        l[1] = JSON.stringify(Object.fromEntries(Object.entries(e).reverse()));
        l[2] = l[2]!.replace(/é/g, '\\u00e9');
        const { hash, ...rest } = JSON.parse(l[3]!) as Record<string, unknown>;
        l[3] = JSON.stringify({ hash, ...rest });
      }),
    );
    expect(read).toMatchObject({ count: 6, csvListsEntries: true });
    expect(read.stop).toBeUndefined();
  });

  it('refuses a hash member that is not the top-level one, or a second body hidden behind a duplicate key', () => {
    // The entry's hash also inside a nested object: the top-level member is then removed first...
    const nested = readExportedEntries(
      packageOf(4, 'nested', (l) => void (l[1] = l[1]!.replace('"new_state":{', `"new_state":{"hash":"${(JSON.parse(l[1]!) as { hash: string }).hash}",`))),
    );
    expect(nested.stop).toMatchObject({ at: 1, failure: { kind: 'modified' } });
    const dup = readExportedEntries(packageOf(4, 'dup', (l) => void (l[2] = l[2]!.replace('{', '{"reason":"forged",'))));
    expect(dup.stop).toMatchObject({ at: 2, failure: { kind: 'modified' } });
  });

  it('holds entries.csv to the entries record by record, across the batches it renders them in', () => {
    const n = 600; // more than two batches, the last one partial
    expect(readExportedEntries(packageOf(n, 'csv-whole'))).toMatchObject({ count: n, csvListsEntries: true });
    const edits: Array<[string, (r: string[]) => void]> = [
      ['csv-mid-batch', (r) => void (r[300] = r[300]!.replace('change 301', 'change 999'))],
      ['csv-last', (r) => void (r[n - 1] = r[n - 1]!.replace('change 600', 'change 6000'))],
      ['csv-dropped', (r) => void r.splice(511, 1)],
      ['csv-missing-tail', (r) => void r.pop()],
      ['csv-extra', (r) => void r.push(r[0]!)],
      ['csv-swapped', (r) => void ([r[255], r[256]] = [r[256]!, r[255]!])],
    ];
    for (const [name, edit] of edits) {
      const read = readExportedEntries(packageOf(n, name, undefined, edit));
      expect({ name, count: read.count, stop: read.stop, csv: read.csvListsEntries }).toEqual({ name, count: n, stop: undefined, csv: false });
    }
  });

  it('finds no CSV that lists an entry without the members a record lists, rather than failing itself', () => {
    const job = packageOf(40, 'no-actor', (l) => {
      // Self-consistent (it hashes to the hash it states), but not an entry a record can be made of.
      const { hash: _hash, actor: _actor, ...body } = JSON.parse(l[35]!) as Record<string, unknown> & { prev_hash: string };
      l[35] = canonicalJson({ ...body, hash: chainHash(body.prev_hash, canonicalJson(body)) });
    });
    const read = readExportedEntries(job);
    expect(read).toMatchObject({ count: 40, csvListsEntries: false });
    expect(read.stop).toBeUndefined();
  });

  it('gives the same answer from a worker thread, its arrays moved across', async () => {
    for (const [name, edit] of [['w-plain', () => undefined], ['w-twice', (l: string[]) => void l.splice(6, 0, l[2]!)]] as const) {
      const job = packageOf(40, name, edit);
      const aside = readEntriesInWorker(job);
      const answer = await aside.answer;
      expect(answer).toBeDefined();
      expect(answer).toEqual(readExportedEntries(job));
    }
  });
});
