/**
 * Verify of the ledger's copies (goal 4's "in the same class"): an auditor's export package, checked
 * offline by `verifyExport` exactly as `flaggate verify-export` does, and the central PostgreSQL
 * ledger, checked by `verifyPostgresLedger` as `flaggate verify --postgres` does; each beside node's
 * raw chained SHA-256 over the same stored bytes, measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedgerReader } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { exportLedgerFile } from '../src/export-ledger.js';
import { createCoverage, createEmbeddedTsa, openTokenStore, verifyTimestampToken } from '../src/timestamp/index.js';
import { makeTempDir } from '../test/support/temp-dir.js';
import { buildLedger, rawChainedSha256, timed, type Rate } from './ledger.js';
import { table } from './report.js';
import { shipped } from './shipped.js';

/** One verify of a copy, its peer over the same bytes, and whether it found the copy whole. */
export interface CopyVerify {
  verify: Rate & { ok: boolean };
  rawChain: Rate;
}

export interface ExportVerify extends CopyVerify {
  /** Writing the package (`flaggate export --db`), for scale. */
  exportSeconds: number;
  packageBytes: number;
  /** `flaggate verify-export` run as an auditor runs it: a process of its own, its start included. */
  command: { seconds: number; ok: boolean };
}

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

/**
 * Builds an `n`-entry ledger, covers its head with one RFC 3161 token of the embedded TSA (as a
 * sidecar does), exports it with `exportLedgerFile`, then times `verifyExport` on the package.
 */
export async function measureVerifyExport(o: { n: number; log: (msg: string) => void }): Promise<ExportVerify> {
  const tmp = makeTempDir('flaggate-bench-export-');
  try {
    const dataDir = join(tmp.dir, 'data');
    const path = join(dataDir, 'ledger.sqlite');
    o.log(`verify-export: building and exporting ${o.n} entries`);
    buildLedger(path, o.n, 'bench-export');
    await coverHead(dataDir, path);
    const out = join(tmp.dir, 'package');
    const exported = await timed(() => exportLedgerFile({ db: path, out, maxBytes: 64 * 1024 ** 3 }));
    const raw = await timed(() => rawChainedSha256(path, o.n));
    o.log('verify-export: verifying the package');
    const [{ verifyExport }, { verifyCoverage }] = [await shipped.audit(), await shipped.timestamp()];
    const checked = await timed(() => verifyExport(out, { verifyTokens: verifyCoverage }));
    const command = await timed(async () => runCommand(out));
    const bytes = raw.value.bytes;
    return {
      verify: { entries: checked.value.entries, bytes, seconds: checked.seconds, cpuSeconds: checked.cpuSeconds, ok: checked.value.ok && checked.value.entries === o.n },
      rawChain: { entries: o.n, bytes, seconds: raw.seconds, cpuSeconds: raw.cpuSeconds },
      exportSeconds: exported.seconds,
      packageBytes: readdirSync(out, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).reduce((sum, f) => sum + statSync(join(f.parentPath, f.name)).size, 0),
      command: { seconds: command.seconds, ok: command.value },
    };
  } finally {
    tmp.cleanup();
  }
}

/** `dist/cli.js verify-export <dir>`, started by its launcher line: whether it found the package whole (exit 0). */
function runCommand(dir: string): boolean {
  try {
    return (JSON.parse(execFileSync(cli, ['verify-export', dir], { encoding: 'utf8', maxBuffer: 1 << 26 })) as { ok: boolean }).ok;
  } catch {
    return false;
  }
}

/** Times `verifyPostgresLedger` over a database holding the `n` entries of the ledger at `path`, and the raw chain over that ledger. */
export async function measureVerifyPostgres(o: { url: string; path: string; n: number; log: (msg: string) => void }): Promise<CopyVerify> {
  o.log(`verify --postgres: ${o.n} entries`);
  const { verifyPostgresLedger } = await shipped.replicate();
  const checked = await timed(() => verifyPostgresLedger(o.url));
  const raw = await timed(() => rawChainedSha256(o.path, o.n));
  const entries = checked.value.chains.reduce((sum, c) => sum + c.entries, 0);
  return {
    verify: { entries, bytes: raw.value.bytes, seconds: checked.seconds, cpuSeconds: checked.cpuSeconds, ok: checked.value.ok && entries === o.n },
    rawChain: { entries: o.n, bytes: raw.value.bytes, seconds: raw.seconds, cpuSeconds: raw.cpuSeconds },
  };
}

/** One token of the embedded TSA over the ledger's head, in the ledger file's token table. */
async function coverHead(dataDir: string, path: string): Promise<void> {
  const tsa = createEmbeddedTsa({ dataDir, clock: systemClock });
  const store = openTokenStore(path);
  const reader = openLedgerReader(path);
  try {
    const head = reader.head();
    if (head.seq === 0) return;
    const coverage = createCoverage({
      store,
      stamp: async (digestHex) => {
        const token = await tsa.stamp(digestHex);
        return { token, genTime: verifyTimestampToken(token, { trustAnchorsPem: tsa.trustAnchorPem() }).tstInfo.genTime };
      },
    });
    await coverage.cover(head.seq, head.hash);
  } finally {
    reader.close();
    store.close();
  }
}

/** The verify of each copy beside its peer: seconds, entries/s, the ratio to the peer. */
export function renderVerifyCopies(exported: ExportVerify | undefined, postgres: CopyVerify | undefined): string[] {
  const rows: Array<Array<string | number>> = [];
  const add = (what: string, c: CopyVerify) => {
    rows.push([what, c.rawChain.entries, c.verify.seconds.toFixed(2), (c.verify.entries / c.verify.seconds).toFixed(0), (c.verify.seconds / c.rawChain.seconds).toFixed(2), c.verify.ok ? 'ok' : 'FAILED']);
    rows.push(['raw chained SHA-256 over the same stored bytes (peer)', c.rawChain.entries, c.rawChain.seconds.toFixed(2), (c.rawChain.entries / c.rawChain.seconds).toFixed(0), '1.00', '']);
  };
  if (exported) {
    add(`\`verifyExport\` (\`flaggate verify-export\`) on a package of ${(exported.packageBytes / 1024 ** 2).toFixed(0)} MB, written in ${exported.exportSeconds.toFixed(1)} s`, exported);
    const { command, rawChain } = exported;
    rows.push(['`flaggate verify-export` as a command: its own process, start and module loading included', rawChain.entries, command.seconds.toFixed(2), (rawChain.entries / command.seconds).toFixed(0), (command.seconds / rawChain.seconds).toFixed(2), command.ok ? 'ok' : 'FAILED']);
  }
  if (postgres) add('`verifyPostgresLedger` (`flaggate verify --postgres`) over the drained backlog', postgres);
  return [
    '### Verify of the copies',
    '',
    'The export package an auditor checks offline (every step of `verify-export`: manifest signature, chain with its checkpoints, each exported entry against its chain row, the CSV byte for byte against the entries, the RFC 3161 token, the file digests; chain.jsonl and entries.jsonl read a line at a time, the entries and the CSV in a worker thread beside the chain), and the central PostgreSQL ledger (seq ranges in worker threads, as `verify --db` does, each read in pages of binary COPY over its own connection and each row through the same fast proof as the SQLite path). Both run from the built JavaScript, as `flaggate` does. The peer hashes the same entries\' stored bytes, read from the SQLite ledger they came from. `verify-export` hashes about three times those bytes: each exported entry twice (as a chain row and as an exported entry), and every byte of the three line files for the manifest\'s digests. The command row runs `dist/cli.js verify-export` in a process of its own, started by its launcher line, as an auditor runs it: node\'s start and the modules the command loads are in its time.',
    '',
    table(['pass', 'entries', 'seconds', 'entries/s', '× peer', 'result'], rows),
    '',
  ];
}
