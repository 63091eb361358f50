/**
 * An operator holding the sidecar's own keys rewrites history in an export: one approved change's
 * entries removed, the chain renumbered and rehashed, the checkpoint and manifest re-signed with the
 * key from the data dir, and fresh RFC 3161 tokens from the public /v1/tsa. Every signature and every
 * token verifies against what the auditor pinned; what gives it away is time: the fresh tokens were
 * made long after the entries they vouch for.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH, openKeyring, signCheckpoint, verifyExport, type AuditEntry, type Checkpoint, type StoredRow } from '../../src/audit/index.js';
import { csvColumns, csvRow, exportFiles, MANIFEST_TYP, type ExportManifest, type ExportTimestamps } from '../../src/audit/export-format.js';
import { signJson } from '../../src/audit/signed-json.js';
import { isoUtc, type Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { createTsaClient, verifyCoverage } from '../../src/timestamp/index.js';
import { runCli } from '../replicate/sidecar-process.js';
import { makeTempDir } from '../support/temp-dir.js';

const data = makeTempDir('flaggate-restamp-');
const work = makeTempDir('flaggate-restamp-work-');
// The sidecar's clock (and its embedded TSA's) runs with the wall clock, moved forward on demand.
let offsetMs = 0;
const clock: Clock = { now: () => Date.now() + offsetMs, monotonic: () => performance.now() };
let app: Flaggate;
let reference: string;
let changeId: string;
const pinnedKeys = join(work.dir, 'pinned.jwks.json');
const pinnedCa = join(work.dir, 'pinned-ca.crt');

const token = (sub: string, role: string) => mintDevToken({ dataDir: data.dir, sub, roles: [role], clock });
const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
const verify = (dir: string) =>
  verifyExport(dir, { verifyTokens: verifyCoverage, keys: JSON.parse(readFileSync(pinnedKeys, 'utf8')) as never, tsaTrustPem: readFileSync(pinnedCa, 'utf8') });

async function change(flag: string, action: string, role = 'release_engineer', sub = 'riley') {
  return fetch(`${app.proxyUrl}/flags/${flag}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token(sub, role)}`, 'x-flaggate-reason': `${action} ${flag}`, 'x-flaggate-ticket': 'CHG-77' },
  });
}

beforeAll(async () => {
  const config = loadConfig({ env: {}, overrides: { dataDir: data.dir, proxyPort: 0, controlPort: 0, 'audit.checkpointEveryEntries': 4 } });
  app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
  for (const action of ['enable', 'disable']) expect((await change('checkout.new-flow', action)).status).toBe(200);
  // The approved change the rewrite removes: requested by riley, approved by sam, applied.
  const held = await change('payments.instant-payouts', 'enable');
  expect(held.status).toBe(202);
  changeId = ((await held.json()) as { changeRequestId: string }).changeRequestId;
  const approved = await fetch(`${app.controlUrl}/v1/changes/${changeId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('sam', 'release_engineer')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'lgtm' }),
  });
  expect(approved.status).toBe(200);
  for (const action of ['enable', 'disable', 'enable']) expect((await change('search.ranking-v2', action)).status).toBe(200);

  // What the auditor pins, fetched independently of any package.
  writeFileSync(pinnedKeys, JSON.stringify(await (await fetch(`${app.controlUrl}/v1/audit/keys`)).json()));
  cpSync(join(data.dir, 'tsa', 'ca.crt'), pinnedCa);

  const res = await fetch(`${app.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${await token('ada', 'auditor')}` } });
  expect(res.status).toBe(200);
  writeFileSync(join(work.dir, 'export.tar.gz'), Buffer.from(await res.arrayBuffer()));
  reference = join(work.dir, 'reference');
  mkdirSync(reference);
  await extract({ file: join(work.dir, 'export.tar.gz'), cwd: reference });
}, 120_000);

afterAll(async () => {
  await app?.close();
  data.cleanup();
  work.cleanup();
});

/**
 * The rewrite, done as the operator would with the sidecar's data dir: drop the change's entries,
 * renumber and rehash what follows, re-sign a seal and the manifest, stamp the new rows afresh.
 */
async function rewrite(name: string, stamp: 'every rewritten entry' | 'the new head only', timeSuffix?: string): Promise<{ dir: string; removed: number }> {
  const dir = join(work.dir, name);
  cpSync(reference, dir, { recursive: true });
  const rows = lines(dir, 'chain.jsonl').map((l) => JSON.parse(l) as StoredRow);
  const victims = new Set(rows.filter((r) => (JSON.parse(r.body) as AuditEntry).change_request_id === changeId).map((r) => r.seq));
  const earlyTokens = (JSON.parse(readFileSync(join(dir, 'timestamps.json'), 'utf8')) as ExportTimestamps).tokens.filter((t) => t.coversSeq < Math.min(...victims));
  // With its times disguised, the rewrite starts after the last token it keeps: every entry a fresh token first covers is disguised.
  const firstCut = timeSuffix === undefined ? Math.min(...victims) : Math.max(0, ...earlyTokens.map((t) => t.coversSeq)) + 1;
  const chain: StoredRow[] = [];
  let prev = rows.find((r) => r.seq === firstCut - 1)?.hash ?? GENESIS_HASH;
  for (const row of rows) {
    if (row.seq < firstCut) chain.push(row);
    if (row.seq < firstCut || (timeSuffix === undefined && row.seq === firstCut) || victims.has(row.seq)) continue;
    const seq = chain.length + 1;
    const entry = JSON.parse(row.body) as AuditEntry;
    const body = canonicalJson({ ...entry, seq, prev_hash: prev, ...(timeSuffix === undefined ? {} : { timestamp_utc: entry.timestamp_utc + timeSuffix }) });
    const hash = chainHash(prev, body);
    chain.push({ seq, chain_id: row.chain_id, prev_hash: prev, hash, body });
    prev = hash;
  }
  const head = chain[chain.length - 1]!;
  const entries = chain.map((r) => ({ ...(JSON.parse(r.body) as AuditEntry), hash: r.hash }));
  writeFileSync(join(dir, 'chain.jsonl'), chain.map((r) => canonicalJson(r) + '\n').join(''));
  writeFileSync(join(dir, 'entries.jsonl'), entries.map((e) => canonicalJson(e) + '\n').join(''));
  writeFileSync(join(dir, 'entries.csv'), stringify([Array.from(csvColumns), ...entries.map(csvRow)]));

  const keyring = await openKeyring(join(data.dir, 'audit-keys'), clock); // the sidecar's own key
  const checkpoints = JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')) as Checkpoint[];
  const seal = await signCheckpoint({ chainId: head.chain_id, seq: head.seq, hash: head.hash, time: isoUtc(clock.now()) }, keyring);
  writeFileSync(join(dir, 'checkpoints.json'), JSON.stringify([...checkpoints.filter((c) => c.seq < firstCut), seal], null, 2));

  const tsa = createTsaClient({
    urls: [{ url: `${app.controlUrl}/v1/tsa` }],
    timeoutMs: 5000,
    trustAnchorsPem: readFileSync(pinnedCa, 'utf8'),
    untrustedPem: readFileSync(join(data.dir, 'tsa', 'tsa.crt'), 'utf8'),
    clock,
  });
  const timestamps = JSON.parse(readFileSync(join(dir, 'timestamps.json'), 'utf8')) as ExportTimestamps;
  const fresh = stamp === 'every rewritten entry' ? chain.filter((r) => r.seq >= firstCut) : [head];
  const tokens = [...timestamps.tokens.filter((t) => t.coversSeq < firstCut)];
  for (const row of fresh) tokens.push({ coversSeq: row.seq, coversHash: row.hash, token: (await tsa.stamp(row.hash)).token.toString('base64') });
  writeFileSync(join(dir, 'timestamps.json'), JSON.stringify({ ...timestamps, tokens }, null, 2));

  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
  const files = Object.fromEntries(exportFiles.map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
  const resealed: ExportManifest = { ...manifest, createdAt: isoUtc(clock.now()), sealSeq: head.seq, entries: entries.length, files };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(resealed, null, 2));
  writeFileSync(join(dir, 'manifest.jws'), (await signJson(resealed, MANIFEST_TYP, keyring)).jws + '\n');
  return { dir, removed: rows.length - chain.length };
}

describe('an export rewritten and stamped again by the operator', () => {
  it('verifies as exported, against the pinned keys and TSA', async () => {
    expect(await verify(reference)).toMatchObject({ ok: true });
  });

  it('passes when the rewrite is stamped within the bound: the package alone cannot show it (see Trust model)', async () => {
    const { dir, removed } = await rewrite('within-bound', 'every rewritten entry');
    expect(removed).toBe(4); // requested, approved, decision, outcome
    expect(await verify(dir)).toMatchObject({ ok: true });
  });

  it.each(['every rewritten entry', 'the new head only'] as const)('is refused as restamped two hours later, with fresh tokens over %s', async (stamp) => {
    offsetMs = 2 * 3600 * 1000;
    const { dir, removed } = await rewrite(`late-${stamp.replaceAll(' ', '-')}`, stamp);
    expect(removed).toBe(4);
    const report = await verify(dir);
    expect(report.chain).toMatchObject({ ok: true }); // every hash, link and signature holds
    expect(report).toMatchObject({ ok: false, failure: { kind: 'restamped', file: 'timestamps.json' } });
  });

  it.each([' ', '\u200b'])('is refused, not passed over, when the rewritten entries record times with %j after them, which no date reader takes', async (suffix) => {
    offsetMs = 2 * 3600 * 1000;
    const { dir } = await rewrite(`late-disguised-${suffix.charCodeAt(0)}`, 'every rewritten entry', suffix);
    const report = await verify(dir);
    expect(report.chain).toMatchObject({ ok: true });
    expect(report).toMatchObject({ ok: false, failure: { kind: 'modified', file: 'timestamps.json', message: expect.stringContaining('COVERAGE_ENTRY_TIME_INVALID') } });
  });

  it.each(['the manifest\'s createdAt', 'the seal\'s time'])('is refused as malformed when %s, signed by the operator, is no UTC time (it bounds the tokens and the seal)', async (what) => {
    const dir = join(work.dir, `odd-time-${what.length}`);
    cpSync(reference, dir, { recursive: true });
    const keyring = await openKeyring(join(data.dir, 'audit-keys'), clock);
    let manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
    if (what.startsWith('the seal')) {
      const checkpoints = JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')) as Checkpoint[];
      const seal = checkpoints.find((c) => c.seq === manifest.sealSeq)!;
      const odd = await signCheckpoint({ chainId: seal.chainId, seq: seal.seq, hash: seal.hash, time: `${seal.time} ` }, keyring);
      writeFileSync(join(dir, 'checkpoints.json'), JSON.stringify(checkpoints.map((c) => (c === seal ? odd : c)), null, 2));
      manifest = { ...manifest, files: { ...manifest.files, 'checkpoints.json': createHash('sha256').update(readFileSync(join(dir, 'checkpoints.json'))).digest('hex') } };
    } else manifest = { ...manifest, createdAt: `${manifest.createdAt}\u200b` };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, keyring)).jws + '\n');
    expect(await verify(dir)).toMatchObject({ ok: false, failure: { kind: 'malformed', message: expect.stringContaining('not a UTC time') } });
  });

  it('is refused by flaggate verify-export --keys --tsa-trust (exit 1, kind restamped)', async () => {
    offsetMs = 2 * 3600 * 1000;
    const { dir } = await rewrite('late-cli', 'every rewritten entry');
    const res = await runCli(['verify-export', dir, '--keys', pinnedKeys, '--tsa-trust', pinnedCa]);
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, failure: { kind: 'restamped' } });
  }, 60_000);
});
