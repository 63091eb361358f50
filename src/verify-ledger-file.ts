import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { entryTimesFrom, firstFailure, openLedgerReader, verifyLedger, type ChainFailure, type LedgerVerifyReport } from './audit/index.js';
import { readKeys } from './audit/index.js';
import { compareWithUpstream, findStreamBreak, namedUpstreamsMustAnswer, openPostgresReader, readJsonlHeads, upstreamTrust, type UpstreamCheck, type UpstreamSource } from './replicate/index.js';
import { verifyCoverage, type CoverageReport } from './timestamp/index.js';

export interface LedgerFileReport extends LedgerVerifyReport {
  timestamps: CoverageReport | { ok: false; failures: Array<{ code: string; message: string; coversSeq: number }> };
  upstream: UpstreamCheck[];
  failure?: ChainFailure;
}

/**
 * `flaggate verify --db`: a ledger file against its checkpoints, its upstream copies (the JSON Lines
 * stream beside it by default, and any `upstreams` given: JSON Lines paths or postgres:// URLs), and
 * its timestamp tokens bound to the entries' times. Opens nothing for writing.
 */
export async function verifyLedgerFile(o: {
  db: string;
  keys?: string;
  from?: number;
  to?: number;
  tsaTrust?: string;
  tsaUntrusted?: string;
  upstreams?: string[];
  maxDelaySeconds: number;
  skewSeconds: number;
}): Promise<LedgerFileReport> {
  const db = resolve(o.db);
  const beside = (...parts: string[]) => resolve(dirname(db), ...parts);
  const reader = openLedgerReader(db);
  const sources = upstreamSources(o.upstreams ?? (existsSync(beside('audit.jsonl')) ? [beside('audit.jsonl')] : []));
  try {
    // The chain the file is bound to, else the one its rows name: an operator who deletes the binding
    // must not turn off the comparison with the upstream copies (each is read for this chain).
    const chainId = reader.chainId ?? reader.rowsAfter(0, 1)[0]?.chain_id;
    const localHead = reader.head();
    const keys = readKeys(o.keys ? resolve(o.keys) : beside('audit-keys', 'keyring.json'));
    const compared = await compareWithUpstream({ sinks: sources.list, chainId: chainId ?? '', localHead: () => localHead, rowsAfter: reader.rowsAfter, keys: () => keys });
    // Named or the default beside the file, a copy compared must vouch for the chain (the default is
    // compared only when it exists: a ledger may have no JSON Lines upstream at all).
    const streamsWalked = wholeStreams(namedUpstreamsMustAnswer(compared, chainId ?? ''), sources.streams, chainId ?? '', reader.hashAt);
    const upstream = await wholeTables(streamsWalked, sources.tables, chainId ?? '', reader.hashAt);
    const trust = upstreamTrust(upstream);
    const chain = await verifyLedger({
      read: reader.read,
      prove: reader.prove(),
      census: reader.census,
      checkpoints: [...reader.checkpoints(), ...trust.checkpoints],
      keys,
      extraHeads: trust.extraHeads,
      ...(chainId ? { chainId } : {}),
      ...(o.from ? { from: o.from } : {}),
      ...(o.to ? { to: o.to } : {}),
    });
    const trustFile = o.tsaTrust ? resolve(o.tsaTrust) : beside('tsa', 'ca.crt');
    const chainFile = o.tsaUntrusted ? resolve(o.tsaUntrusted) : beside('tsa', 'tsa.crt');
    const tokens = reader.tokens();
    const timestamps = existsSync(trustFile)
      ? verifyCoverage({
          tokens,
          rowHashAt: reader.hashAt,
          headSeq: o.to ?? chain.head.seq,
          trust: { trustAnchorsPem: readFileSync(trustFile, 'utf8'), ...(existsSync(chainFile) ? { untrustedPem: readFileSync(chainFile, 'utf8') } : {}) },
          times: { entryTime: entryTimesFrom(reader.rowsAfter), maxDelaySeconds: o.maxDelaySeconds, skewSeconds: o.skewSeconds },
        })
      : tokens.length === 0 && chain.head.seq === 0
        ? { ok: true, tokensChecked: 0, coveredThrough: 0, failures: [] }
        : { ok: false as const, failures: [{ code: 'TSA_CHAIN_UNTRUSTED', message: `no TSA trust anchor at ${trustFile}`, coversSeq: 0 }] };
    const failure = firstFailure({ chain, upstream, timestamps }) ?? unbound(reader.chainId, localHead.seq, chainId);
    return { ...chain, ok: failure === undefined, ...(failure ? { failure } : {}), timestamps, upstream };
  } finally {
    reader.close();
    await sources.close();
  }
}

/** A file with entries but no chain bound to it: flaggate binds one when it creates the file, so it was removed. */
function unbound(bound: string | undefined, headSeq: number, rowsChain: string | undefined): ChainFailure | undefined {
  if (bound !== undefined || headSeq === 0) return undefined;
  return { code: 'AUDIT_CHAIN_BROKEN', seq: 1, kind: 'wrong_chain', message: `the ledger file names no chain (its chain_id binding is gone); its rows name ${String(rowsChain)}` };
}

/**
 * A JSON Lines copy that agrees with the head must also hold the chain without a hole and without
 * another entry in it (a copy swapped for an older one and appended to, lines deleted or edited):
 * it is read whole, line by line.
 */
function wholeStreams(checks: UpstreamCheck[], streams: ReadonlySet<string>, chainId: string, hashAt: (seq: number) => string | undefined): UpstreamCheck[] {
  return checks.map((c) => {
    if (!c.ok || !streams.has(c.sink) || c.upstream === null) return c;
    const broken = findStreamBreak(c.sink, chainId, hashAt);
    return broken ? { ...c, ok: false, kind: broken.kind === 'gap' ? 'gap' : 'forked', at: broken.seq, message: broken.message } : c;
  });
}

type Links = (afterSeq: number, limit: number) => Promise<Array<{ seq: number; hash: string }>>;

/**
 * The same for a PostgreSQL copy, by seq and hash only: its table refuses gaps and deletions, but
 * not from whoever owns it (a trigger turned off, a row deleted behind it), and its head alone
 * would not show that.
 */
async function wholeTables(checks: UpstreamCheck[], tables: ReadonlyMap<string, (chainId: string) => Links>, chainId: string, hashAt: (seq: number) => string | undefined): Promise<UpstreamCheck[]> {
  const walked: UpstreamCheck[] = [];
  for (const c of checks) {
    const links = tables.get(c.sink);
    const broken = c.ok && links && c.upstream !== null ? await findTableBreak(links(chainId), hashAt) : undefined;
    walked.push(broken ? { ...c, ok: false, kind: broken.kind, at: broken.seq, message: broken.message } : c);
  }
  return walked;
}

async function findTableBreak(links: Links, hashAt: (seq: number) => string | undefined): Promise<{ kind: 'gap' | 'forked'; seq: number; message: string } | undefined> {
  // The table takes a chain from seq 1 only: a copy that starts later lost its first rows.
  let expected = 1;
  for (let after = 0; ; ) {
    const page = await links(after, 10_000);
    if (page.length === 0) return undefined;
    for (const row of page) {
      if (row.seq !== expected) return { kind: 'gap', seq: expected, message: `the PostgreSQL copy lacks seq ${expected} to ${row.seq - 1}` };
      const local = hashAt(row.seq);
      if (local !== undefined && local !== row.hash) return { kind: 'forked', seq: row.seq, message: `the PostgreSQL copy holds another entry at seq ${row.seq}` };
      expected = row.seq + 1;
    }
    after = page[page.length - 1]!.seq;
  }
}

/** Read-only views of upstream copies: a JSON Lines path (also named in `streams`), or a postgres:// URL (its rows in `tables`). */
function upstreamSources(specs: string[]): { list: UpstreamSource[]; streams: Set<string>; tables: Map<string, (chainId: string) => Links>; close(): Promise<void> } {
  const closers: Array<() => Promise<void>> = [];
  const streams = new Set<string>();
  const tables = new Map<string, (chainId: string) => Links>();
  let databases = 0;
  const list = specs.map((spec): UpstreamSource => {
    if (/^postgres(ql)?:\/\//.test(spec)) {
      const pg = openPostgresReader(spec);
      closers.push(() => pg.close());
      // Each copy is checked under its own name: `postgres`, then `postgres#2`, … in the order given.
      databases += 1;
      const name = databases === 1 ? 'postgres' : `postgres#${databases}`;
      tables.set(name, (chainId) => pg.links(chainId));
      return {
        name,
        head: async (chainId) => (await pg.chains()).find((c) => c.chainId === chainId)?.head ?? null,
        latestCheckpoint: async (chainId) => (await pg.checkpoints(chainId)).at(-1) ?? null,
      };
    }
    const path = resolve(spec);
    streams.add(path);
    return {
      name: path,
      head: async (chainId) => readJsonlHeads(path, chainId).head,
      latestCheckpoint: async (chainId) => readJsonlHeads(path, chainId).checkpoint,
    };
  });
  return { list, streams, tables, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
