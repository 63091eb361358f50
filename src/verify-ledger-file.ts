import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { entryTimesFrom, firstFailure, openLedgerReader, verifyLedger, type ChainFailure, type LedgerVerifyReport } from './audit/index.js';
import { readKeys } from './audit/index.js';
import { compareWithUpstream, openPostgresReader, readJsonlHeads, upstreamTrust, type UpstreamCheck, type UpstreamSource } from './replicate/index.js';
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
    const chainId = reader.chainId ?? '';
    const localHead = reader.head();
    const keys = readKeys(o.keys ? resolve(o.keys) : beside('audit-keys', 'keyring.json'));
    const upstream = await compareWithUpstream({ sinks: sources.list, chainId, localHead: () => localHead, rowsAfter: reader.rowsAfter, keys: () => keys });
    const trust = upstreamTrust(upstream);
    const chain = await verifyLedger({
      read: reader.read,
      prove: reader.prove(),
      checkpoints: [...reader.checkpoints(), ...trust.checkpoints],
      keys,
      extraHeads: trust.extraHeads,
      ...(reader.chainId ? { chainId: reader.chainId } : {}),
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
    const failure = firstFailure({ chain, upstream, timestamps });
    return { ...chain, ok: failure === undefined, ...(failure ? { failure } : {}), timestamps, upstream };
  } finally {
    reader.close();
    await sources.close();
  }
}

/** Read-only views of upstream copies: a JSON Lines path, or a postgres:// URL. */
function upstreamSources(specs: string[]): { list: UpstreamSource[]; close(): Promise<void> } {
  const closers: Array<() => Promise<void>> = [];
  const list = specs.map((spec): UpstreamSource => {
    if (/^postgres(ql)?:\/\//.test(spec)) {
      const pg = openPostgresReader(spec);
      closers.push(() => pg.close());
      return {
        name: 'postgres',
        head: async (chainId) => (await pg.chains()).find((c) => c.chainId === chainId)?.head ?? null,
        latestCheckpoint: async (chainId) => (await pg.checkpoints(chainId)).at(-1) ?? null,
      };
    }
    const path = resolve(spec);
    return {
      name: path,
      head: async (chainId) => readJsonlHeads(path, chainId).head,
      latestCheckpoint: async (chainId) => readJsonlHeads(path, chainId).checkpoint,
    };
  });
  return { list, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
