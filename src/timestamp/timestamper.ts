import { readFileSync } from 'node:fs';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createCoverage, type Coverage, type StampFn } from './coverage.js';
import { createEmbeddedTsa, type EmbeddedTsa } from './embedded-tsa.js';
import { createTsaClient } from './tsa-client.js';
import { openTokenStore, type StoredToken, type TokenStore } from './token-store.js';
import type { CoverageTrust } from './verify-coverage.js';

/** The record stage's timestamping, as the pipeline and the control port use it. */
export interface Timestamper {
  /**
   * Resolves once a token covers entry `seq`. In `sync` mode this waits for the TSA and rejects
   * with TIMESTAMP_UNAVAILABLE (unless `onUnavailable: queue`); in `async` mode it returns at once
   * and coverage follows in the background.
   */
  cover(seq: number, hash: string): Promise<void>;
  /** Asks for coverage of the head shortly, without waiting (entries whose change is settled); never throws. */
  coverSoon(seq: number, hash: string): void;
  /** Covers the current head now (before verify, on start-up, on a timer). */
  coverHead(): Promise<void>;
  /**
   * With the embedded TSA in `sync` mode with shared tokens: a token over `hash` issued now,
   * synchronously, for the ledger to store in the same transaction as the entry it covers (one
   * fsync for both). Undefined otherwise: coverage then follows through `cover`.
   */
  readonly sealNow?: (seq: number, hash: string) => Omit<StoredToken, 'id'>;
  tokens(): StoredToken[];
  /** The earliest token whose imprint covers entry `seq` (directly or through the chain). */
  coveringToken(seq: number): StoredToken | undefined;
  /** What a verifier needs to check this sidecar's tokens. */
  readonly trust: CoverageTrust;
  /** The embedded TSA, when no external TSA is configured (served on the control port). */
  readonly embedded?: EmbeddedTsa;
  close(): void;
}

type TimestamperDeps = {
  config: Config['timestamp'];
  dataDir: string;
  ledgerPath: string;
  head: () => { seq: number; hash: string };
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
};

/** How entries get stamped and what a verifier trusts for them. */
interface Stamper {
  stamp: StampFn;
  trust: CoverageTrust;
  embedded?: EmbeddedTsa;
}

/** The embedded TSA: used when no external TSA is configured. */
function embeddedStamper(deps: TimestamperDeps): Stamper {
  const tsa = createEmbeddedTsa({ dataDir: deps.dataDir, clock: deps.clock });
  return {
    embedded: tsa,
    trust: { trustAnchorsPem: tsa.trustAnchorPem(), untrustedPem: tsa.certificateChainPem() },
    stamp: async (digest) => {
      const token = await tsa.stamp(digest);
      return { token, genTime: new Date(deps.clock.now()).toISOString(), tsa: 'embedded' };
    },
  };
}

/** External TSAs with failover, trusted through the configured anchors. */
function externalStamper(deps: TimestamperDeps): Stamper {
  const { config } = deps;
  const pems = (files: string[]) => files.map((f) => readFileSync(f, 'utf8'));
  const trust: CoverageTrust = {
    trustAnchorsPem: pems(config.trustAnchors),
    untrustedPem: pems(config.untrusted),
    ...(config.policyAllowlist ? { policyAllowlist: config.policyAllowlist } : {}),
  };
  const client = createTsaClient({
    urls: config.tsaUrls.map((u) => ({ url: u.url, ...(u.bearer || u.basic ? { auth: { ...(u.bearer ? { bearer: u.bearer } : {}), ...(u.basic ? { basic: u.basic } : {}) } } : {}) })),
    timeoutMs: config.timeoutMs,
    trustAnchorsPem: trust.trustAnchorsPem,
    ...(trust.untrustedPem ? { untrustedPem: trust.untrustedPem } : {}),
    ...(config.policyAllowlist ? { policyAllowlist: config.policyAllowlist } : {}),
    clock: deps.clock,
  });
  return {
    trust,
    stamp: async (digest) => {
      const { token, tstInfo, tsa } = await client.stamp(digest);
      return { token, genTime: tstInfo.genTime, tsa };
    },
  };
}

/** One token per entry: the slower baseline the shared tokens are measured against. */
function coverEachEntry(stamp: StampFn, store: TokenStore): Pick<Coverage, 'cover'> {
  return {
    async cover(seq: number, hash: string) {
      const existing = store.covering(seq);
      if (existing && existing.coversSeq === seq) return { tokenId: existing.id, coversSeq: seq };
      const { token, genTime, tsa } = await stamp(hash);
      const row = store.add({ coversSeq: seq, coversHash: hash, genTime, tsa: tsa ?? 'embedded', token });
      return { tokenId: row.id, coversSeq: row.coversSeq };
    },
  };
}

/** Builds timestamping from configuration: the embedded TSA by default, else external TSAs with failover. */
export function createTimestamper(deps: TimestamperDeps): Timestamper {
  const { config } = deps;
  const store = openTokenStore(deps.ledgerPath);
  const { stamp, trust, embedded } = config.tsaUrls.length === 0 ? embeddedStamper(deps) : externalStamper(deps);
  const coverage = config.shareTokens ? createCoverage({ stamp, store }) : coverEachEntry(stamp, store);

  const track = (p: Promise<unknown>) =>
    p.then(
      () => deps.metrics.uncoveredEntries.set(0),
      (err: unknown) => {
        deps.metrics.timestampFailures.inc();
        deps.metrics.uncoveredEntries.set(deps.head().seq - (store.latest()?.coversSeq ?? 0));
        deps.logger.error('timestamping failed: entries are uncovered', { error: String(err) });
      },
    );

  let soon: NodeJS.Timeout | undefined;
  const coverHead = async () => {
    const head = deps.head();
    if (head.seq > 0) await coverage.cover(head.seq, head.hash);
  };

  // Coverage must follow within the bound: sweep the head, and keep the alert metric current.
  const timer = setInterval(() => void track(coverHead()), Math.max(1, config.asyncBoundSeconds / 2) * 1000);
  timer.unref();

  return {
    async cover(seq, hash) {
      if (config.mode === 'async') {
        void track(coverage.cover(seq, hash));
        return;
      }
      try {
        await coverage.cover(seq, hash);
      } catch (err) {
        if (config.onUnavailable === 'refuse') throw err;
        void track(Promise.reject(err));
      }
    },
    coverSoon() {
      // Settled entries need no token of their own: one stamp over the head shortly after covers them all.
      if (soon) return;
      soon = setTimeout(() => {
        soon = undefined;
        void track(coverHead());
      }, 200);
      soon.unref();
    },
    coverHead,
    ...(embedded && config.mode === 'sync' && config.shareTokens
      ? { sealNow: (seq: number, hash: string) => ({ coversSeq: seq, coversHash: hash, genTime: new Date(deps.clock.now()).toISOString(), tsa: 'embedded', token: embedded.stampSync(hash) }) }
      : {}),
    tokens: () => store.all(),
    coveringToken: (seq) => store.coveringToken(seq),
    trust,
    ...(embedded ? { embedded } : {}),
    close() {
      clearInterval(timer);
      if (soon) clearTimeout(soon);
      store.close();
    },
  };
}
