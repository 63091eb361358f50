import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openKeyring, openLedger, openLedgerReader, signCheckpoint, verifyExport, type AuditEntry } from '../../src/audit/index.js';
import { fixedClock, systemClock } from '../../src/clock.js';
import { exportLedgerFile } from '../../src/export-ledger.js';
import { createCoverage, createEmbeddedTsa, openTokenStore, verifyCoverage, verifyTimestampToken } from '../../src/timestamp/index.js';
import { sampleEntry, tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-export-seal-');
afterAll(() => tmp.cleanup());


it('seals a period at a checkpoint the tokens cover exactly: a token covering the period end from a later row moves the seal to that row', async () => {
  const dataDir = join(tmp.dir, 'data');
  const path = join(dataDir, 'ledger.sqlite');
  // Entries a second apart, from a minute ago: distinct times, none after the tokens.
  const clock = fixedClock(Date.now() - 60_000);
  const ledger = openLedger({ path, chainId: 'seal', clock });
  const keyring = await openKeyring(join(dataDir, 'audit-keys'), systemClock);
  const tsa = createEmbeddedTsa({ dataDir, clock: systemClock });
  const store = openTokenStore(path);
  const coverage = createCoverage({
    store,
    stamp: async (digestHex) => {
      const token = await tsa.stamp(digestHex);
      return { token, genTime: verifyTimestampToken(token, { trustAnchorsPem: tsa.trustAnchorPem() }).tstInfo.genTime };
    },
  });
  const entries: AuditEntry[] = [];
  for (let seq = 1; seq <= 6; seq += 1) {
    clock.advance(1000);
    entries.push(ledger.append(sampleEntry(seq)));
  }
  const checkpointAt = async (seq: number) => ledger.appendCheckpoint(await signCheckpoint({ chainId: 'seal', seq, hash: entries[seq - 1]!.hash, time: new Date().toISOString() }, keyring));
  // Checkpoints at 2, 4 and 6; tokens at 3 and 6: the first token covering 4 covers it from row 6.
  await checkpointAt(2);
  await checkpointAt(4);
  await checkpointAt(6);
  await coverage.cover(3, entries[2]!.hash);
  await coverage.cover(6, entries[5]!.hash);
  store.close();
  ledger.close();

  // The period holds entries 3 and 4: anchored at 2, it would be sealed at 4 but for the token.
  const out = join(tmp.dir, 'package');
  const manifest = await exportLedgerFile({ db: path, out, maxBytes: 1 << 30, from: entries[2]!.timestamp_utc, to: entries[4]!.timestamp_utc });
  expect(manifest).toMatchObject({ anchorSeq: 2, sealSeq: 6, entries: 2 });
  const report = await verifyExport(out, { verifyTokens: verifyCoverage });
  expect(report.failure).toBeUndefined();
  expect(report).toMatchObject({ ok: true, timestamps: { ok: true, coveredThrough: 6 } });
});

it('signs no checkpoint over a chain that does not verify since the last one, and writes no package', async () => {
  const dataDir = join(tmp.dir, 'broken');
  const db = join(dataDir, 'ledger.sqlite');
  const ledger = openLedger({ path: db, chainId: 'broken', clock: fixedClock(Date.now() - 60_000) });
  const keyring = await openKeyring(join(dataDir, 'audit-keys'), systemClock);
  for (let n = 1; n <= 4; n += 1) ledger.append(sampleEntry(n));
  ledger.appendCheckpoint(await signCheckpoint({ chainId: 'broken', seq: 4, hash: ledger.head().hash, time: new Date().toISOString() }, keyring));
  for (let n = 5; n <= 6; n += 1) ledger.append(sampleEntry(n));
  ledger.close();
  tamper(db, "UPDATE audit_entries SET body = replace(body, 'User 2', 'Mallory') WHERE seq = 5");
  const out = join(tmp.dir, 'broken-out');
  await expect(exportLedgerFile({ db, out, maxBytes: 1e9 })).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { seq: 5, kind: 'modified' } });
  const reader = openLedgerReader(db);
  expect(reader.checkpoints().map((c) => c.seq)).toEqual([4]);
  reader.close();
  expect(existsSync(out)).toBe(false);
});
