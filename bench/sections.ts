/**
 * Sections 4 to 6 of the report: the ledger (issue 3), timestamps (issue 4) and replication
 * (issue 5), each with its peer, and their lines for the closing "Reading".
 */
import type { LedgerResults } from './ledger.js';
import { percentile, type LatencyResult, type ThroughputResult } from './load.js';
import type { DrainResult } from './replication.js';
import { ms, statusSummary, table } from './report.js';
import type { TokenRun } from './timestamps.js';

/** One pipeline run at 64 clients with `timestamp.shareTokens` on or off. */
export interface TokenSharingRun {
  shareTokens: boolean;
  result: ThroughputResult;
  flaggateCpu: number;
  cpuMsPerChange: number;
  /** Ledger entries and RFC 3161 tokens the flaggate process wrote during the whole run (warm-up included). */
  entries: number;
  tokens: number;
}

export interface TimestampResults {
  tokens: TokenRun[];
  pipeline: TokenSharingRun[];
}

/** The same allowed change without and with a required PostgreSQL sink. */
export interface ReplicationResults {
  latency: Array<{ withPostgres: boolean; result: LatencyResult; upstreamRows?: number }>;
  drain: DrainResult;
}

const MB = 1e6;
const rate = (n: number, s: number): string => (n / s).toFixed(0);
const p = (r: LatencyResult, q: number): number => percentile(r.samples, q);

/** Section 4. */
export function renderLedger(l: LedgerResults): string[] {
  const out: string[] = ['## 4. Ledger: verify and append throughput', ''];
  out.push(
    `A ledger of ${l.n.toLocaleString('en-US')} entries (\`sampleEntry(n)\` from \`test/support/entries.ts\`, ${(l.sha256sum.bytes / l.n).toFixed(0)} bytes of canonical JSON each), built with \`openLedger(...).appendMany\` in transactions of ${l.build.batch.toLocaleString('en-US')}: ${l.build.seconds.toFixed(1)} s (${rate(l.n, l.build.seconds)} entries/s; ${(l.build.dbBytes / MB).toFixed(0)} MB of SQLite, ${(l.build.dbBytes / l.n).toFixed(0)} ledger bytes per entry), the larger part of this section's ${l.totalSeconds.toFixed(0)} s. \`verifyChain(openLedgerReader(path).read)\` reads every row back (ranges in worker threads, loaded from the built JavaScript as \`flaggate verify --db\` runs it) and, per row, proves the body canonical with one scan, recomputes \`SHA-256(prev_hash ‖ body)\` and the links. The floor is \`sha256sum\` over the same bodies concatenated into one file (${(l.sha256sum.bytes / MB).toFixed(0)} MB, written beforehand in ${l.dump.seconds.toFixed(1)} s and still in the page cache, as the SQLite file is): hashing the bytes with nothing else.`,
    '',
  );
  out.push(
    table(
      ['pass', 'entries', 'seconds', 'entries/s', 'MB/s', 'result'],
      [
        ['`verifyChain` over the SQLite ledger', l.verify.entries, l.verify.seconds.toFixed(2), rate(l.verify.entries, l.verify.seconds), rate(l.verify.bytes / MB, l.verify.seconds), l.verify.ok ? 'ok' : 'FAILED'],
        ['`sha256sum` over the same bodies (floor)', l.sha256sum.entries, l.sha256sum.seconds.toFixed(2), rate(l.sha256sum.entries, l.sha256sum.seconds), rate(l.sha256sum.bytes / MB, l.sha256sum.seconds), `${l.sha256sum.digest.slice(0, 12)}…`],
      ],
    ),
    '',
  );
  const appendSeconds = l.appends[0]?.seconds ?? 0;
  out.push(
    `Appends on a fresh ledger in the temp dir (WAL, synchronous=FULL, so each committed transaction is one fsync), ${appendSeconds.toFixed(0)} s per run. Writers are concurrent async loops in one process, as request handlers are: each yields, then appends; with group commit every append that arrives while a commit is pending joins the next \`appendMany\` transaction.`,
    '',
  );
  out.push(
    table(
      ['append path', 'writers', 'entries', 'entries/s', 'transactions', 'entries per transaction'],
      l.appends.map((a) => [a.label, a.writers, a.entries, rate(a.entries, a.seconds), a.commits, (a.entries / a.commits).toFixed(1)]),
    ),
    '',
  );
  return out;
}

/** Section 5. */
export function renderTimestamps(t: TimestampResults): string[] {
  const out: string[] = ['## 5. Timestamps: tokens per second, and shared tokens in the pipeline', ''];
  if (t.tokens.length > 0) {
    out.push(
      'Tokens in this process from the embedded TSA (`createEmbeddedTsa({ dataDir, clock })`, EC P-256 key, ESSCertIDv2, certificate included), and from `openssl ts -reply` with an EC P-256 signer made by `test/support/openssl-tsa.ts`, one `openssl` process per token, which is how the test helper and any script-based TSA work.',
      '',
    );
    out.push(
      table(
        ['issuer', 'in flight', 'tokens', 'seconds', 'tokens/s', 'ms per token', 'bytes per token'],
        t.tokens.map((r) => [r.label, r.inFlight, r.tokens, r.seconds.toFixed(2), rate(r.tokens, r.seconds), ms((r.seconds * 1000) / r.tokens), r.bytes.toFixed(0)]),
      ),
      '',
    );
  }
  if (t.pipeline.length > 0) {
    const secs = t.pipeline[0]!.result.seconds;
    out.push(
      `Allowed changes through flaggate (stub platform, embedded TSA, \`timestamp.mode: sync\`), 64 clients for ${secs.toFixed(0)} s, with \`timestamp.shareTokens\` on (the default: changes waiting while a token is being issued share the next one, over the newest hash) and off (each change's decision entry gets its own token; in both modes outcome entries are covered by a token over the head shortly after). Entries and tokens are counted in the flaggate process's ledger after the run, warm-up included; a change writes two entries (decision, outcome).`,
      '',
    );
    out.push(
      table(
        ['shareTokens', 'clients', 'changes/s', 'completed', 'flaggate CPU', 'flaggate CPU ms/change', 'ledger entries', 'tokens', 'entries per token', 'statuses'],
        t.pipeline.map((r) => [
          r.shareTokens ? 'true (default)' : 'false (a token per change)',
          r.result.clients,
          r.result.perSecond.toFixed(1),
          r.result.completed,
          `${(r.flaggateCpu * 100).toFixed(0)}%`,
          ms(r.cpuMsPerChange),
          r.entries,
          r.tokens,
          (r.entries / Math.max(1, r.tokens)).toFixed(1),
          statusSummary(r.result.statuses),
        ]),
      ),
      '',
    );
  }
  return out;
}

/** Section 6. */
export function renderReplication(r: ReplicationResults): string[] {
  const out: string[] = ['## 6. Replication: a required PostgreSQL sink', ''];
  const without = r.latency.find((l) => !l.withPostgres);
  const withPg = r.latency.find((l) => l.withPostgres);
  if (without && withPg) {
    out.push(
      `The same allowed change through flaggate (stub platform), one at a time, with the default sinks (one required fsync'd JSON Lines file) and with \`FLAGGATE_UPSTREAM_POSTGRES_URL\` adding a required PostgreSQL sink: the change is forwarded only after PostgreSQL has acknowledged its decision entry (each delivery one INSERT, a named statement, that checks the link to the stored previous entry, over a pool of 2 connections); its outcome entry, committed after the reply, rides with the next change's delivery (one INSERT of two rows). The JSON Lines append runs on the event loop during PostgreSQL's round trip, started once the INSERT is sent. PostgreSQL is a private cluster on 127.0.0.1 on the same cores, started by \`test/support/postgres.ts\` with **fsync=on and synchronous_commit=on** (PostgreSQL's defaults, the real configuration): every acknowledged INSERT waited for its WAL flush.`,
      '',
    );
    out.push(
      table(
        ['sinks', 'p50 ms', 'p99 ms', 'n', 'statuses'],
        [
          ['JSON Lines (default)', ms(p(without.result, 50)), ms(p(without.result, 99)), without.result.samples.length, statusSummary(without.result.statuses)],
          ['JSON Lines + required PostgreSQL', ms(p(withPg.result, 50)), ms(p(withPg.result, 99)), withPg.result.samples.length, statusSummary(withPg.result.statuses)],
          ['**PostgreSQL adds**', ms(p(withPg.result, 50) - p(without.result, 50)), ms(p(withPg.result, 99) - p(without.result, 99)), '', withPg.upstreamRows === undefined ? '' : `${withPg.upstreamRows} rows upstream afterwards (2 per change, warm-up included)`],
        ],
      ),
      '',
    );
  }
  const d = r.drain;
  out.push(
    `Draining a backlog: a ledger of ${d.entries.toLocaleString('en-US')} entries (built in ${d.buildSeconds.toFixed(1)} s), none of them upstream, then one \`createReplicator({ source: ledger, sinks: [createPostgresSink({ required: true })] }).through(${d.entries})\` in the bench process, ${d.batchSize} entries per delivery (the \`replicate.batchSize\` default), each delivery one INSERT statement followed by a sink-cursor commit in SQLite.`,
    '',
  );
  out.push(
    table(
      ['backlog', 'batch', 'seconds', 'entries/s', 'rows upstream afterwards'],
      [[d.entries, d.batchSize, d.seconds.toFixed(2), rate(d.entries, d.seconds), d.upstreamRows === d.entries ? `${d.upstreamRows} (all)` : `${d.upstreamRows} (MISSING ${d.entries - d.upstreamRows})`]],
    ),
    '',
  );
  return out;
}

/** The "Reading" lines for sections 4 to 6 that ran. */
export function readingExtra(l: LedgerResults | undefined, t: TimestampResults | undefined, r: ReplicationResults | undefined): string[] {
  const lines: string[] = [];
  if (l) {
    const v = l.verify.entries / l.verify.seconds;
    const s = l.sha256sum.entries / l.sha256sum.seconds;
    const one = l.appends.find((a) => a.writers === 1);
    const many = l.appends.find((a) => a.writers > 1 && a.commits === a.entries);
    const grouped = l.appends.find((a) => a.commits < a.entries);
    lines.push(
      `- **Ledger verify.** \`verifyChain\` checks ${v.toFixed(0)} entries/s (${(l.verify.bytes / MB / l.verify.seconds).toFixed(0)} MB/s) with ${l.scaling.at(-1)?.verify.workers ?? 1} worker threads, a ${(l.n / v).toFixed(1)} s pass over ${l.n.toLocaleString('en-US')} entries; \`sha256sum\` hashes the same bytes at ${(l.sha256sum.bytes / MB / l.sha256sum.seconds).toFixed(0)} MB/s (${(s / v).toFixed(2)}× verify's rate). Per row the verifier reads the row through SQLite and better-sqlite3, proves the body canonical with one scan (no parse and re-serialization unless the scan refuses) and recomputes the chain hash; the SHA-256 itself is the same work \`sha256sum\` does. Range verification (\`from\`/\`to\`) bounds a routine check of a large ledger.`,
    );
    if (one && many && grouped) {
      lines.push(
        `- **Ledger append.** One transaction per entry gives ${rate(one.entries, one.seconds)} entries/s from one writer and ${rate(many.entries, many.seconds)} from 64: every entry is its own commit and WAL fsync, run synchronously on the one thread, so concurrency cannot help. Group commit takes ${rate(grouped.entries, grouped.seconds)} entries/s from 64 writers, ${(grouped.entries / grouped.seconds / (many.entries / many.seconds)).toFixed(0)}× more, with ${(grouped.entries / grouped.commits).toFixed(0)} entries per transaction: the fsync is paid once per group, and what is left is the per-entry schema check, canonical JSON and hash.`,
      );
    }
  }
  if (t) {
    const seq = t.tokens.find((x) => x.label.startsWith('embedded TSA `stamp') && x.inFlight === 1);
    const conc = t.tokens.find((x) => x.label.startsWith('embedded TSA `stamp') && x.inFlight > 1);
    const ossl = t.tokens.find((x) => x.label.startsWith('`openssl'));
    if (seq && conc) {
      lines.push(
        `- **Tokens.** The embedded TSA issues ${rate(seq.tokens, seq.seconds)} tokens/s one at a time and ${rate(conc.tokens, conc.seconds)} with ${conc.inFlight} in flight: \`stamp()\` is synchronous work behind a promise (TSTInfo DER, an ECDSA P-256 signature through node:crypto, the CMS wrapping), so requests in flight do not run in parallel: the two figures differ by JIT warm-up, garbage collection and scheduling, not because requests overlap.${ossl ? ` \`openssl ts -reply\` manages ${rate(ossl.tokens, ossl.seconds)} tokens/s, almost all of it starting a process and reading its config, key and certificates per token; the signing itself is as cheap as in-process.` : ''} Either way a token costs far less than the rest of a change.`,
      );
    }
    const shared = t.pipeline.find((x) => x.shareTokens);
    const single = t.pipeline.find((x) => !x.shareTokens);
    if (shared && single) {
      const diff = shared.result.perSecond / single.result.perSecond - 1;
      const compare =
        Math.abs(diff) < 0.1
          ? `within ${Math.abs(diff * 100).toFixed(0)}% of each other, which is inside this machine's run-to-run noise`
          : `${Math.abs(diff * 100).toFixed(0)}% ${diff > 0 ? 'more with shared tokens' : 'more with a token per change'}`;
      lines.push(
        `- **Shared tokens.** At 64 clients flaggate takes ${shared.result.perSecond.toFixed(0)} changes/s with shared tokens (${(shared.entries / Math.max(1, shared.tokens)).toFixed(1)} ledger entries per token) and ${single.result.perSecond.toFixed(0)} with a token per change (${(single.entries / Math.max(1, single.tokens)).toFixed(1)}), ${compare}; flaggate CPU ${ms(shared.cpuMsPerChange)} vs ${ms(single.cpuMsPerChange)} ms per change. With the embedded TSA a token is about ${seq ? ms((seq.seconds * 1000) / seq.tokens) : 'a tenth of a'} ms of signing plus a row in the token store, a small part of a change, ${Math.abs(diff) < 0.1 ? 'so sharing barely shows in changes/s here' : 'so a gap this large is more than the tokens themselves explain: part of it is load from other processes on this shared machine during one of the two runs'}. What it saves is TSA requests: ${(shared.entries / Math.max(1, shared.tokens) / (single.entries / Math.max(1, single.tokens))).toFixed(0)}× fewer tokens per change, which matters with an external TSA, where each token is a network round trip the change waits for and a request the TSA must serve (and may rate-limit or bill).`,
      );
    }
  }
  if (r) {
    const without = r.latency.find((x) => !x.withPostgres);
    const withPg = r.latency.find((x) => x.withPostgres);
    if (without && withPg) {
      const d50 = p(withPg.result, 50) - p(without.result, 50);
      const d99 = p(withPg.result, 99) - p(without.result, 99);
      const tail = d99 < d50 ? ` The p99s (${ms(p(without.result, 99))} and ${ms(p(withPg.result, 99))} ms) are set by this shared machine's scheduling and fsync stalls more than by the sink, so their difference means little.` : '';
      lines.push(
        `- **PostgreSQL sink.** A required PostgreSQL sink adds ${ms(d50)} ms at p50 and ${ms(d99)} ms at p99 to an allowed change (${ms(p(without.result, 50))} → ${ms(p(withPg.result, 50))} ms): a change waits for PostgreSQL once, for its decision entry before it is forwarded (a loopback round trip, an INSERT with its link-check trigger and PostgreSQL's own WAL flush, fsync=on and synchronous_commit=on), carrying the previous change's outcome entry with it. Goal: at most 1.5 ms at p50.${tail}`,
      );
    }
    lines.push(
      `- **Backlog drain.** ${r.drain.entries.toLocaleString('en-US')} entries drained into PostgreSQL at ${rate(r.drain.entries, r.drain.seconds)} entries/s (${r.drain.seconds.toFixed(1)} s), in batches of ${r.drain.batchSize}: after an outage a backlog as large as the default \`maxBacklog\` (10,000 entries) takes about ${ms((10_000 * r.drain.seconds * 1000) / r.drain.entries)} ms of delivery time to catch up${r.drain.upstreamRows === r.drain.entries ? ', and every entry arrived exactly once' : ''}.`,
    );
  }
  return lines;
}
