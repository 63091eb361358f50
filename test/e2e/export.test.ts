import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fc, test as propTest } from '@fast-check/vitest';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyring, signCheckpoint, signJson, verifyExport, type Checkpoint } from '../../src/audit/index.js';
import { MANIFEST_TYP } from '../../src/audit/export-format.js';
import { fixedClock, systemClock } from '../../src/clock.js';
import { exportLedgerFile } from '../../src/export-ledger.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { makeTempDir } from '../support/temp-dir.js';

let app: TestFlaggate;
let auditor: string;
const work = makeTempDir('flaggate-export-test-');

const verify = (dir: string, keys?: object) => verifyExport(dir, { verifyTokens: verifyCoverage, ...(keys ? { keys: keys as never } : {}) });

/** A copy of the reference package to tamper with. */
function copyOf(source: string, name: string): string {
  const dir = join(work.dir, name);
  cpSync(source, dir, { recursive: true });
  return dir;
}

const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);

beforeAll(async () => {
  app = await startTestFlaggate({ 'audit.checkpointEveryEntries': 5 });
  const release = await app.token('riley', 'release_engineer');
  const qa = await app.token('quinn', 'qa');
  auditor = await app.token('ada', 'auditor');
  for (let i = 0; i < 12; i += 1) {
    const token = i % 3 === 0 ? qa : release;
    const flag = i % 2 ? 'checkout.new-flow' : 'search.ranking-v2';
    await fetch(`${app.proxyUrl}/flags/${flag}/${i % 4 < 2 ? 'enable' : 'disable'}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': `change ${i}`, 'x-flaggate-ticket': 'CHG-1' } });
  }
  await app.checkpointer.checkpointNow();
}, 60_000);

afterAll(async () => {
  await app?.stop();
  work.cleanup();
});

describe('export packages', () => {
  let reference: string;

  it('exports over the control port as a tarball that verifies offline', async () => {
    const res = await fetch(`${app.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    writeFileSync(join(work.dir, 'export.tar.gz'), Buffer.from(await res.arrayBuffer()));
    reference = join(work.dir, 'reference');
    cpSync(join(work.dir, 'export.tar.gz'), join(work.dir, 'x.tgz'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(reference);
    await extract({ file: join(work.dir, 'x.tgz'), cwd: reference });
    const report = await verify(reference);
    expect(report).toMatchObject({ ok: true, chainId: 'local' });
    expect(report.entries).toBe(lines(reference, 'chain.jsonl').length);
    expect(report.timestamps).toMatchObject({ ok: true });
    expect(lines(reference, 'entries.csv').length).toBe(report.entries + 1);
    expect(JSON.parse(readFileSync(join(reference, 'policy-revisions.json'), 'utf8'))).toHaveLength(1);
  });

  it('exports a filtered period from the ledger file; the filtered view still proves its context', async () => {
    const out = join(work.dir, 'filtered');
    const manifest = await exportLedgerFile({ db: `${app.dataDir}/ledger.sqlite`, out, maxBytes: 1 << 30, filters: { flag: 'checkout.new-flow', actor: 'riley' } });
    const entries = lines(out, 'entries.jsonl').map((l) => JSON.parse(l) as { flag_key: string; actor: { id: string } });
    expect(entries.length).toBe(manifest.entries);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.flag_key === 'checkout.new-flow' && e.actor.id === 'riley')).toBe(true);
    expect(await verify(out)).toMatchObject({ ok: true });
  });

  it('exports a period: its entries only, the chain from the checkpoint before it to the one after it', async () => {
    const all = app.ledger.entriesAfter(0, 1000);
    const [from, to] = [all[6]!.timestamp_utc, all[18]!.timestamp_utc];
    const out = join(work.dir, 'period');
    const manifest = await exportLedgerFile({ db: `${app.dataDir}/ledger.sqlite`, out, maxBytes: 1 << 30, from, to });
    const entries = lines(out, 'entries.jsonl').map((l) => JSON.parse(l) as { seq: number; timestamp_utc: string });
    expect(entries.map((e) => e.seq)).toEqual(all.filter((e) => e.timestamp_utc >= from && e.timestamp_utc < to).map((e) => e.seq));
    const chain = lines(out, 'chain.jsonl').map((l) => JSON.parse(l) as { seq: number });
    expect(chain[0]!.seq).toBe(manifest.anchorSeq + 1);
    expect(chain[0]!.seq).toBeLessThanOrEqual(entries[0]!.seq);
    const periodReport = await verify(out);
    expect(periodReport.failure).toBeUndefined();
    expect(periodReport).toMatchObject({ ok: true, period: { from, to } });
  });

  it('rejects an export with one entry altered, as modified at its seq', async () => {
    const dir = copyOf(reference, 'altered');
    const entries = lines(dir, 'entries.jsonl');
    const victim = JSON.parse(entries[3]!) as { seq: number; reason: string };
    entries[3] = entries[3]!.replace(`"reason":"${victim.reason}"`, '"reason":"nothing to see"');
    writeFileSync(join(dir, 'entries.jsonl'), entries.join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'modified', seq: victim.seq });
  });

  it('rejects an export with one entry removed, as deleted at its seq', async () => {
    const dir = copyOf(reference, 'removed');
    const entries = lines(dir, 'entries.jsonl');
    const victim = JSON.parse(entries[5]!) as { seq: number };
    writeFileSync(join(dir, 'entries.jsonl'), entries.filter((_, i) => i !== 5).join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'deleted', seq: victim.seq });
  });

  it('rejects an export whose chain lost a row, as deleted at its seq', async () => {
    const dir = copyOf(reference, 'chain-cut');
    const rows = lines(dir, 'chain.jsonl');
    writeFileSync(join(dir, 'chain.jsonl'), rows.filter((_, i) => i !== 4).join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'deleted', seq: (JSON.parse(rows[4]!) as { seq: number }).seq });
  });

  it('rejects a checkpoint re-signed with another key: unknown_key, and bad_signature under a pinned key id', async () => {
    const dir = copyOf(reference, 'resigned');
    const checkpoints = JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')) as Checkpoint[];
    const other = makeTempDir();
    try {
      const keyring = await openKeyring(other.dir, fixedClock(0));
      const last = checkpoints.at(-1)!;
      checkpoints[checkpoints.length - 1] = await signCheckpoint({ chainId: last.chainId, seq: last.seq, hash: last.hash, time: last.time }, keyring);
      writeFileSync(join(dir, 'checkpoints.json'), JSON.stringify(checkpoints));
      expect((await verify(dir)).failure).toMatchObject({ kind: 'unknown_key' });
      // An operator who also swaps the package's keys is caught by the auditor's pinned copy.
      writeFileSync(join(dir, 'keys.jwks.json'), JSON.stringify(keyring.jwks()));
      const pinned = JSON.parse(readFileSync(join(reference, 'keys.jwks.json'), 'utf8')) as object;
      expect((await verify(dir, pinned)).failure).toMatchObject({ kind: 'unknown_key' });
    } finally {
      other.cleanup();
    }
  });

  it('rejects a timestamp token that does not verify', async () => {
    const dir = copyOf(reference, 'bad-token');
    const ts = JSON.parse(readFileSync(join(dir, 'timestamps.json'), 'utf8')) as { tokens: Array<{ token: string }> };
    const der = Buffer.from(ts.tokens.at(-1)!.token, 'base64');
    der[der.length - 10] = der[der.length - 10]! ^ 0xff;
    ts.tokens.at(-1)!.token = der.toString('base64');
    writeFileSync(join(dir, 'timestamps.json'), JSON.stringify(ts));
    expect((await verify(dir)).failure).toMatchObject({ kind: 'bad_timestamp' });
  });

  it('rejects rows smuggled past the seal, where the chain check does not reach', async () => {
    const dir = copyOf(reference, 'past-seal');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { sealSeq: number };
    const rows = lines(dir, 'chain.jsonl');
    const last = JSON.parse(rows.at(-1)!) as { seq: number; hash: string };
    const forged = { ...last, seq: manifest.sealSeq + 1, prev_hash: last.hash, hash: 'f'.repeat(64) };
    writeFileSync(join(dir, 'chain.jsonl'), [...rows, JSON.stringify(forged)].join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'inserted', seq: manifest.sealSeq + 1 });
  });

  it('rejects an edited entry hidden behind a duplicate of its seq', async () => {
    const dir = copyOf(reference, 'duplicate');
    const rows = lines(dir, 'chain.jsonl');
    const third = JSON.parse(rows[2]!) as { seq: number; body: string };
    const edited = { ...third, body: third.body.replace('"reason":"', '"reason":"edited ') };
    writeFileSync(join(dir, 'chain.jsonl'), [...rows, JSON.stringify(edited)].join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'reordered', seq: third.seq });
  });

  it('rejects a package whose scope was narrowed after export (the manifest is signed)', async () => {
    const dir = copyOf(reference, 'narrowed');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, filters: { actor: 'riley' } }));
    expect((await verify(dir)).failure).toMatchObject({ kind: 'modified', file: 'manifest.json' });
  });

  it('reports a hostile package as malformed instead of throwing', async () => {
    const dir = copyOf(reference, 'hostile');
    writeFileSync(join(dir, 'chain.jsonl'), '{"seq":"1"}\n');
    expect(await verify(dir)).toMatchObject({ ok: false, failure: { kind: 'malformed' } });
    writeFileSync(join(dir, 'timestamps.json'), '{}');
    writeFileSync(join(dir, 'entries.csv'), '"unterminated');
    expect((await verify(dir)).ok).toBe(false);
  });

  it('rejects entries.csv that lists the entries in another order, or one short, or one long', async () => {
    const csv = lines(reference, 'entries.csv');
    const [header, ...records] = csv;
    const variants = {
      swapped: [header, records[1], records[0], ...records.slice(2)],
      short: [header, ...records.slice(0, -1)],
      long: [header, ...records, records.at(-1)],
    };
    for (const [name, content] of Object.entries(variants)) {
      const dir = copyOf(reference, `csv-${name}`);
      writeFileSync(join(dir, 'entries.csv'), content.join('\n') + '\n');
      expect((await verify(dir)).failure, name).toMatchObject({ kind: 'modified', file: 'entries.csv', message: 'entries.csv does not list the exported entries' });
    }
  });

  it('refuses entries.csv that says the same in other CSV: every field quoted, or a header in another column order', async () => {
    const [header, ...records] = lines(reference, 'entries.csv');
    const columns = header!.split(',');
    const quoteAll = (line: string) => line.split(',').map((cell) => (cell.startsWith('"') ? cell : `"${cell}"`)).join(',');
    const variants = {
      quoted: [quoteAll(header!), ...records],
      'another column order': [[columns[1], columns[0], ...columns.slice(2)].join(','), ...records],
    };
    for (const [name, content] of Object.entries(variants)) {
      const dir = copyOf(reference, `csv-${name.replaceAll(' ', '-')}`);
      writeFileSync(join(dir, 'entries.csv'), content.join('\n') + '\n');
      expect((await verify(dir)).failure, name).toMatchObject({ kind: 'modified', file: 'entries.csv', message: 'entries.csv does not list the exported entries' });
    }
  });

  it('takes an entry whose members come in another order as the same entry; only the digest check refuses the edited file', async () => {
    const dir = copyOf(reference, 'reordered-members');
    const entries = lines(dir, 'entries.jsonl');
    const first = JSON.parse(entries[0]!) as Record<string, unknown>;
    entries[0] = JSON.stringify(Object.fromEntries(Object.entries(first).reverse()));
    writeFileSync(join(dir, 'entries.jsonl'), entries.join('\n') + '\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'modified', file: 'entries.jsonl', message: 'entries.jsonl does not match the manifest digest' });
  });

  // The line files' digests are taken as the checks read them: bytes that no line shows (a blank
  // line, which the reader skips) still fail the digest, in the entries pass's worker or not.
  it('refuses a blank line added to chain.jsonl or entries.jsonl by its digest, read in a worker or on the calling thread', async () => {
    for (const file of ['chain.jsonl', 'entries.jsonl']) {
      const dir = copyOf(reference, `blank-line-${file}`);
      const text = lines(dir, file);
      writeFileSync(join(dir, file), [text[0], '', ...text.slice(1)].join('\n') + '\n');
      for (const entriesWorkerFrom of [1, Number.MAX_SAFE_INTEGER]) {
        const report = await verifyExport(dir, { verifyTokens: verifyCoverage, entriesWorkerFrom });
        expect(report.failure, `${file}, worker from ${entriesWorkerFrom}`).toMatchObject({ kind: 'modified', file, message: `${file} does not match the manifest digest` });
      }
    }
  });

  it('refuses a line file that is not a regular file (a pipe could hand each reading other bytes)', async () => {
    for (const file of ['chain.jsonl', 'entries.jsonl', 'entries.csv']) {
      const dir = copyOf(reference, `not-regular-${file}`);
      rmSync(join(dir, file));
      execFileSync('mkfifo', [join(dir, file)]);
      expect((await verify(dir)).failure, file).toMatchObject({ kind: 'malformed', message: `${file} is not a regular file` });
    }
  });

  // An operator holding the signing key can re-sign the manifest over edited files: the digests
  // then agree, and only the checks of the entries and the CSV against the proven chain remain.
  const edits = {
    'an edited entry': (entries: string[], _csv: string[], i: number) => {
      const e = JSON.parse(entries[i]!) as { seq: number; reason: string };
      entries[i] = JSON.stringify({ ...e, reason: `${e.reason} (edited)` });
      return { kind: 'modified', seq: e.seq, file: 'entries.jsonl' };
    },
    'a dropped entry': (entries: string[], _csv: string[], i: number) => {
      const [e] = entries.splice(i, 1);
      return { kind: 'deleted', seq: (JSON.parse(e!) as { seq: number }).seq, file: 'entries.jsonl' };
    },
    'a duplicated entry': (entries: string[], _csv: string[], i: number) => {
      entries.splice(i, 0, entries[i]!);
      return { kind: 'inserted', seq: (JSON.parse(entries[i]!) as { seq: number }).seq, file: 'entries.jsonl' };
    },
    'a dropped CSV record': (_entries: string[], csv: string[], i: number) => {
      csv.splice(i + 1, 1);
      return { kind: 'modified', file: 'entries.csv' };
    },
    // Not the seq or the hash: another actor, reason or state in a spreadsheet an auditor reads.
    'an edited CSV cell': (_entries: string[], csv: string[], i: number) => {
      csv[i + 1] = csv[i + 1]!.replace(/,(release_engineer|flag_admin|qa|auditor)?,/, ',flag_admin auditor,');
      return { kind: 'modified', file: 'entries.csv' };
    },
  };
  propTest.prop([fc.constantFrom(...(Object.keys(edits) as Array<keyof typeof edits>)), fc.nat()], { numRuns: 16 })(
    'refuses a package re-signed over an edited entries.jsonl or entries.csv, at the check that sees it',
    async (edit, n) => {
      const dir = copyOf(reference, `resigned-${edit.replaceAll(' ', '-')}-${n}`);
      const [entries, csv] = [lines(dir, 'entries.jsonl'), lines(dir, 'entries.csv')];
      const want = edits[edit](entries, csv, n % entries.length);
      writeFileSync(join(dir, 'entries.jsonl'), entries.join('\n') + '\n');
      writeFileSync(join(dir, 'entries.csv'), csv.join('\n') + '\n');
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
      for (const file of ['entries.jsonl', 'entries.csv']) manifest.files[file] = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const keyring = await openKeyring(join(app.dataDir, 'audit-keys'), systemClock);
      writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, keyring)).jws + '\n');
      expect((await verify(dir)).failure).toMatchObject(want);
    },
    30_000,
  );

  // The entries pass runs in a worker thread from ENTRIES_WORKER_FROM entries; these packages are
  // small, so it is asked for here. Each edit, re-signed, gets the verdict of the pass on this thread.
  it('reaches the same verdict with the entries pass in a worker thread, on every kind of edit', async () => {
    const resign = async (dir: string) => {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
      for (const file of ['entries.jsonl', 'entries.csv']) manifest.files[file] = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const keyring = await openKeyring(join(app.dataDir, 'audit-keys'), systemClock);
      writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, keyring)).jws + '\n');
    };
    const entryEdits: Record<string, (entries: string[]) => void> = {
      untouched: () => undefined,
      'members in another order': (e) => void (e[1] = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(e[1]!) as object).reverse()))),
      'a line that is not JSON': (e) => void (e[2] = '{"seq":'),
      'a line that is not an entry': (e) => void (e[2] = '[1]'),
      'a seq the chain does not hold': (e) => void (e[2] = JSON.stringify({ ...(JSON.parse(e[2]!) as object), seq: 10_000 })),
      'an edited reason': (e) => void (e[2] = JSON.stringify({ ...(JSON.parse(e[2]!) as object), reason: 'edited' })),
      'a duplicate': (e) => void e.splice(2, 0, e[2]!),
      'two swapped': (e) => void ([e[1], e[2]] = [e[2]!, e[1]!]),
      'one dropped': (e) => void e.splice(1, 1),
      'an edited CSV cell': () => undefined,
    };
    for (const [name, edit] of Object.entries(entryEdits)) {
      const dir = copyOf(reference, `aside-${name.replaceAll(' ', '-')}`);
      const entries = lines(dir, 'entries.jsonl');
      edit(entries);
      writeFileSync(join(dir, 'entries.jsonl'), entries.join('\n') + '\n');
      if (name === 'an edited CSV cell') writeFileSync(join(dir, 'entries.csv'), readFileSync(join(dir, 'entries.csv'), 'utf8').replace('release_engineer', 'flag_admin'));
      if (name !== 'untouched') await resign(dir);
      const [onThread, inWorker] = [await verify(dir), await verifyExport(dir, { verifyTokens: verifyCoverage, entriesWorkerFrom: 0 })];
      expect(inWorker, name).toEqual(onThread);
      expect(onThread.ok, name).toBe(name === 'untouched' || name === 'members in another order');
    }
  }, 60_000);

  it('refuses a chain row or an exported entry that names a key twice, whichever value a reader keeps; takes one in another member order', async () => {
    const resigned = async (name: string, file: string, edit: (lines: string[]) => void) => {
      const dir = copyOf(reference, `twice-${name}`);
      const content = lines(dir, file);
      edit(content);
      writeFileSync(join(dir, file), content.join('\n') + '\n');
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
      manifest.files[file] = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const keyring = await openKeyring(join(app.dataDir, 'audit-keys'), systemClock);
      writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, keyring)).jws + '\n');
      return verify(dir);
    };
    // JSON.parse keeps the last body, the real one; a reader that keeps the first sees a forged one.
    const forgedBody = (l: string[]) => {
      const row = JSON.parse(l[3]!) as { body: string };
      l[3] = `{"body":${JSON.stringify(row.body.replace(/"reason":"[^"]*"/, '"reason":"forged"'))},${l[3]!.slice(1)}`;
    };
    expect((await resigned('chain-body', 'chain.jsonl', forgedBody)).failure).toMatchObject({ kind: 'malformed', message: 'chain.jsonl line 4 names a key twice' });
    const forgedReason = (l: string[]) => void (l[0] = `{"reason":"forged",${l[0]!.slice(1)}`);
    expect((await resigned('entry-reason', 'entries.jsonl', forgedReason)).failure).toMatchObject({ kind: 'modified', file: 'entries.jsonl' });
    // The manifest with a second period before the signed one: JSON.parse keeps the signed one.
    const dir = copyOf(reference, 'twice-manifest');
    const manifestText = readFileSync(join(dir, 'manifest.json'), 'utf8');
    writeFileSync(join(dir, 'manifest.json'), `{"period":{"from":"1999-01-01T00:00:00.000Z","to":null},${manifestText.trim().slice(1)}`);
    expect((await verify(dir)).failure).toMatchObject({ kind: 'malformed', message: 'manifest.json names a key twice' });
    const reordered = (l: string[]) => void (l[3] = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l[3]!) as object).reverse())));
    expect(await resigned('chain-reordered', 'chain.jsonl', reordered)).toMatchObject({ ok: true });
  });

  it('rejects a file changed behind the manifest', async () => {
    const dir = copyOf(reference, 'policy-edit');
    writeFileSync(join(dir, 'policy-revisions.json'), '[]\n');
    expect((await verify(dir)).failure).toMatchObject({ kind: 'modified', file: 'policy-revisions.json' });
  });

  it('keeps exports for auditors', async () => {
    const release = await app.token('riley', 'release_engineer');
    const res = await fetch(`${app.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${release}` } });
    expect(res.status).toBe(403);
  });
});

describe('the export size cap', () => {
  it('refuses a package past audit.exportMaxBytes over the control port: 422 AUDIT_EXPORT_TOO_LARGE, no temporary folder left', async () => {
    const tmp = join(work.dir, 'capped-tmp');
    mkdirSync(tmp);
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // os.tmpdir() of the in-process sidecar, so only its folders are counted
    const capped = await startTestFlaggate({ 'audit.exportMaxBytes': 4096 });
    try {
      const release = await capped.token('riley', 'release_engineer');
      for (const action of ['enable', 'disable', 'enable']) {
        await fetch(`${capped.proxyUrl}/flags/checkout.new-flow/${action}`, { method: 'POST', headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'cap', 'x-flaggate-ticket': 'CHG-3' } });
      }
      const res = await fetch(`${capped.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${await capped.token('ada', 'auditor')}` } });
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ code: 'AUDIT_EXPORT_TOO_LARGE' });
      expect(readdirSync(tmp).filter((f) => f.startsWith('flaggate-export-'))).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      await capped.stop();
    }
  });

  it('refuses it from the ledger file too, leaving no half-written package', async () => {
    const out = join(work.dir, 'too-large');
    await expect(exportLedgerFile({ db: `${app.dataDir}/ledger.sqlite`, out, maxBytes: 2048 })).rejects.toMatchObject({ code: 'AUDIT_EXPORT_TOO_LARGE', status: 422 });
    expect(existsSync(out)).toBe(false);
  });
});
