/**
 * The evidence side of a sidecar: the ledger and its group commit, the checkpoint keyring and
 * checkpointer, the timestamper, the upstream sinks with their replicator and checkpoint
 * publisher, the comparison with the upstream copies, and the one recorder the stages write through.
 */
import { join } from 'node:path';
import { createCheckpointer, createGroupCommit, createRecorder, openEntrySearcher, openKeyring, openLedger, type Checkpointer, type EntrySearcher, type GroupCommit, type Keyring, type Ledger, type Recorder } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  compareWithUpstream,
  createCheckpointPublisher,
  createReplicator,
  createSinks,
  createUpstreamGuard,
  createUpstreamWatch,
  type UpstreamGuard,
  type UpstreamWatch,
} from '../replicate/index.js';
import { createTimestamper, type Timestamper } from '../timestamp/index.js';
import { BUNDLE_ARCHIVE_DIR } from '../policy/index.js';
import { startBundleUpstream, type BundleUpstream } from './bundle-upstream.js';

export interface Evidence {
  ledger: Ledger;
  keyring: Keyring;
  checkpointer: Checkpointer;
  timestamper: Timestamper;
  replicator: ReturnType<typeof createReplicator>;
  checkpointPublisher: ReturnType<typeof createCheckpointPublisher>;
  upstreamWatch: UpstreamWatch;
  upstreamGuard: UpstreamGuard;
  record: Recorder;
  /** The data dir's bundle archive, copied to the sinks that keep bundles (PostgreSQL). */
  bundleUpstream: BundleUpstream;
  /** Commits the entries still waiting for a group (outcomes whose replies went out): before reading the tail. */
  commitWaiting(): void;
  /** The audit log's searches of the ledger file, in a worker thread (`openEntrySearcher`). */
  searcher: EntrySearcher;
  /** The newest entries covered by a token and sealed by a checkpoint (on stop, and at start-up after a crash). */
  sealTail(): Promise<void>;
  close(): Promise<void>;
}

export async function openEvidence(config: Readonly<Config>, deps: { clock: Clock; logger: Logger; metrics: Metrics }): Promise<Evidence> {
  const { clock, logger, metrics } = deps;
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  const groupCommit = createGroupCommit(ledger);
  const keyring = await openKeyring(config.audit.keysDir, clock);
  const sinks = createSinks(config.replicate.sinks, { production: config.mode === 'production' });
  const checkpointPublisher = createCheckpointPublisher({ source: ledger, sinks, logger, onConflict: (_sink, err) => metrics.errors.inc({ code: err.code }) });
  const checkpointer = createCheckpointer({
    ledger,
    keyring,
    clock,
    logger,
    everyEntries: config.audit.checkpointEveryEntries,
    everySeconds: config.audit.checkpointEverySeconds,
    publish: () => checkpointPublisher.publish(),
  });
  const timestamper = createTimestamper({ config: config.timestamp, dataDir: config.dataDir, ledgerPath: config.audit.file, head: ledger.head, clock, metrics, logger });
  sealAllowedDecisions(ledger, timestamper);
  const replicator = createReplicator({ source: ledger, sinks, metrics, clock, logger, maxBacklog: config.replicate.maxBacklog, batchSize: config.replicate.batchSize });
  // A local chain cut below, or forked from, what an upstream copy holds (entries or a signed
  // checkpoint) is reported, and nothing is served or appended from then on (the guard); readiness
  // names each copy that disagrees and who wrote it (the watch, cached so /readyz never hangs).
  const upstreamWatch = createUpstreamWatch({
    check: () => compareWithUpstream({ sinks, chainId: ledger.chainId, localHead: ledger.head, rowsAfter: ledger.rowsAfter, keys: () => keyring.jwks() }),
    onDiverged: (check) => logger.error('local chain disagrees with the upstream copy; refusing to serve', { ...check }),
  });
  const upstreamGuard = createUpstreamGuard(() => upstreamWatch.refresh(), (error) => metrics.errors.inc({ code: error.code }));
  for (const check of await upstreamGuard.refresh()) if (check.ok) logger.info('upstream copy compared', { ...check });
  replicator.nudge(); // drain whatever the last run left behind
  const bundleUpstream = startBundleUpstream({ archiveDir: join(config.dataDir, BUNDLE_ARCHIVE_DIR), chainId: ledger.chainId, sinks, logger });

  const record = createRecorder({
    commit: async (entry, soon) => {
      const refused = upstreamGuard.refusal();
      if (refused) throw refused;
      return config.audit.groupCommit ? groupCommit.append(entry, { soon }) : ledger.append(entry);
    },
    afterCommit: (entry) => {
      metrics.ledgerEntries.inc({ type: entry.entry_type });
      checkpointer.afterAppend(entry.seq);
    },
    cover: (seq, hash) => timestamper.cover(seq, hash),
    coverSoon: (seq, hash) => timestamper.coverSoon(seq, hash),
    replicateThrough: (seq) => replicator.through(seq),
    replicateSoon: () => replicator.nudgeSoon(),
    onNotUpstream: (entry, err) => logger.warn('entry recorded locally, not yet upstream', { seq: entry.seq, error: String(err) }),
  });
  const searcher = openEntrySearcher(config.audit.file);
  const sealTail = async () => {
    groupCommit.flush();
    await timestamper.coverHead().catch((err: unknown) => logger.error('the newest entries are not covered by a timestamp token', { error: String(err) }));
    await checkpointer.checkpointNow();
  };
  return {
    ledger: committingFirst(ledger, groupCommit), keyring, checkpointer, timestamper, replicator, checkpointPublisher, upstreamWatch, upstreamGuard, record, sealTail, bundleUpstream,
    commitWaiting: groupCommit.flush,
    searcher,
    async close() {
      groupCommit.flush(); // an outcome still waiting for a group is committed before anything closes
      await searcher.close();
      await bundleUpstream.close();
      if (!upstreamGuard.refusal()) {
        await sealTail();
        replicator.nudge(); // the tail and its checkpoint go upstream before the sinks close
      }
      await checkpointer.close();
      timestamper.close();
      await replicator.close();
      ledger.close();
    },
  };
}

/**
 * The ledger as the rest of the sidecar reads and writes it: what waits for a group (an outcome
 * whose reply went out) is committed first, so a reader sees every entry a reply has reported and
 * an entry written here never goes ahead of one that waits. The stages inside the evidence
 * (timestamps, replication, checkpoints) read it as it is, between groups.
 */
function committingFirst(ledger: Ledger, groupCommit: GroupCommit): Ledger {
  const first = <A extends unknown[], R>(use: (...args: A) => R) => (...args: A): R => (groupCommit.flush(), use(...args));
  return {
    ...ledger,
    head: first(ledger.head),
    rowsAfter: first(ledger.rowsAfter),
    census: first(ledger.census),
    entriesAfter: first(ledger.entriesAfter),
    checkpoints: first(ledger.checkpoints),
    append: first(ledger.append),
    appendMany: first(ledger.appendMany),
    commit: first(ledger.commit),
  };
}

/**
 * With the embedded TSA (sync mode, shared tokens), a commit holding an allowed decision stores
 * the token over its newest entry in the same transaction: the decision is committed and covered
 * with one fsync, and the `cover` before the forward finds it covered. Other commits (refusals,
 * outcomes) are covered shortly after, as before, so they cost no token each.
 */
function sealAllowedDecisions(ledger: Ledger, timestamper: Timestamper): void {
  const sealNow = timestamper.sealNow;
  if (!sealNow) return;
  ledger.sealWith((committed) => {
    const last = committed[committed.length - 1];
    const forwards = committed.some((e) => e.entry_type === 'change.decision' && e.decision.allow && e.unrecorded === null);
    return last && forwards ? sealNow(last.seq, last.hash) : undefined;
  });
}
