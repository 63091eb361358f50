import { changeRoutes } from './approvals/index.js';
import { reconcileInDoubt, rowToEntry, type AuditEntry, type Checkpointer, type EntryPage, type EntrySearch, type Ledger, type StoredRow } from './audit/index.js';
import { systemClock, type Clock } from './clock.js';
import {
  buildApprovals,
  listen,
  openEvidence,
  openPlatforms,
  openPolicyDelivery,
  planProxies,
  readinessOf,
  checkStartup,
  startDrift,
  recordRefusalSummaries,
  verifyLocal,
  sharedVerify,
  type Evidence,
  type Listening,
  type Platforms,
  type ProxyPlan,
} from './compose/index.js';
import type { Config } from './config/index.js';
import { createControlApp } from './control/index.js';
import { createConsole } from './console/index.js';
import { exportLedgerArchive } from './export-ledger.js';
import { retentionPolicy } from './export-evidence.js';
import { archivedBundlePath, scheduleAttestations } from './attest-schedule.js';
import { ensurePrivateDir } from './private-path.js';
import { createIdentify } from './identify/index.js';
import { createProxyApp, createRefusalLimiter } from './intercept/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorReply, resumeHeld, type Resume, type Stages } from './pipeline/index.js';
import { BUNDLE_ARCHIVE_DIR } from './policy/index.js';
import { join } from 'node:path';
import { driftRoutes, type DriftWatcher } from './drift/index.js';
import { breakGlassRoutes, createBreakGlassReviews, type BreakGlassReviews } from './break-glass/index.js';

export interface Flaggate {
  /** The configured proxy port's URL. */
  proxyUrl: string;
  /** Where each platform's clients point, by platform id: its port's URL and path prefix. */
  proxyUrls: Record<string, string>;
  controlUrl: string;
  ledger: Ledger;
  metrics: Metrics;
  checkpointer: Checkpointer;
  /** The drift watchers of the platforms that have a probe, as one. */
  drift: DriftWatcher | undefined;
  /** Break-glass changes and their retrospective reviews. */
  breakGlass: BreakGlassReviews;
  /** Looks for a new policy bundle now (SIGHUP: the file, or the bundle service); a bad bundle is refused and the running one stays. */
  reloadPolicy(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The composition root: config → stages → the two listening ports, in order. Tests and
 * `flaggate serve` both start flaggate through here.
 */
export async function startFlaggate(config: Readonly<Config>, options: { clock?: Clock; logger?: Logger } = {}): Promise<Flaggate> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  ensurePrivateDir(config.dataDir); // held request bodies, headers and keys live here
  const metrics = createMetrics({ defaultMetrics: true, environments: [...config.metrics.environments, ...config.platforms.map((p) => p.environment)] });
  await checkStartup(config, logger); // logins that could write another's chain stop it; weak settings are warned of
  const delivery = await openPolicyDelivery(config, { metrics, logger });
  const { policy, active, shadowed } = delivery;
  const { identify } = createIdentify({ identity: config.identity, dataDir: config.dataDir, tokenBytes: config.limits.tokenBytes, clock });
  const platforms = await openPlatforms(config, logger);
  const evidence = await openEvidence(config, { clock, logger, metrics });
  const { record, upstreamGuard } = evidence;
  const refusals = createRefusalLimiter({ perSecond: config.audit.refusals.perSecond, burst: config.audit.refusals.burst, windowMs: config.audit.refusals.windowSeconds * 1000, clock });
  const summaries = recordRefusalSummaries({ refusals, record, platform: platforms.list.map((p) => p.route.id).join(','), policy, logger, windowSeconds: config.audit.refusals.windowSeconds });
  let controlUrl: string | undefined;
  // An approved change goes back through the pipeline with the stages of the platform it was made on.
  const resume: Resume = (held) => resumeHeld(held, stages.get(held.change.platform)!);
  const { approvals, store } = buildApprovals(config, { clock, logger, policy, platforms, record, resume, refusals, controlUrl: () => controlUrl });
  const contextClaims = { reasonClaim: config.identity.reasonClaim, ticketClaim: config.identity.ticketClaim };
  const base: Omit<Stages, 'platform'> = { clock, metrics, logger, identify, policy, record, refusals, approvals, contextClaims, breakGlassReviewSeconds: config.breakGlass.reviewSeconds };
  // One set of stages per platform, shared by its proxy port or prefix and by its approved changes.
  const stages = new Map(platforms.list.map((p): [string, Stages] => [p.route.id, { ...base, platform: p.platform }]));
  await settleCrashTail(evidence, platforms, { logger, clock, forwardTimeoutMs: Math.max(...config.platforms.map((p) => p.timeoutMs)) });
  // A swap is recorded before the bundle decides; each bundle archived goes upstream too.
  await delivery.start({ ledger: evidence.ledger, record, archived: () => void evidence.bundleUpstream.sync() });
  // Held changes a crash left `applying` take the outcome just reconciled (a store that is down waits for the next listing).
  if (!evidence.upstreamGuard.refusal()) await approvals.sweep().catch((err: unknown) => logger.warn('held changes not swept at start-up', { error: String(err) }));
  const drift = await startDrift(config, evidence, { clock, logger, metrics });
  const breakGlass = createBreakGlassReviews({ ledger: evidence.ledger, append: (e) => evidence.record.append(e), clock });
  const attestations = startAttestations(config, evidence, () => policy.revision.sha256, { clock, logger, metrics });
  metrics.setOverdueReviews(() => breakGlass.overdue());
  // Series start at 0, so the first break-glass is an increase an alert rule can see.
  for (const p of config.platforms) {
    for (const environment of new Set([...config.metrics.environments, p.environment].map((e) => metrics.changeLabels({ action: '', environment: e }).environment))) {
      metrics.breakGlass.inc({ platform: p.id, environment }, 0);
    }
  }
  const proxies = planProxies(config, platforms, { base, of: (id) => stages.get(id)! }).map((plan) => ({ ...plan, app: proxyApp(plan, config, upstreamGuard, metrics) }));
  const controlApp = createControlApp({
    clock, logger, metrics, identify,
    policy: active,
    ...(shadowed ? { shadow: shadowed.shadowReport } : {}),
    ...(config.metrics.bearerToken ? { metricsToken: config.metrics.bearerToken } : {}),
    changes: (authorize, identified) => changeRoutes(approvals, authorize, identified),
    ...(drift ? { drift: (authorize: Parameters<typeof driftRoutes>[1]) => driftRoutes(drift, authorize, () => policy.revision) } : {}),
    breakGlass: (authorize) => breakGlassRoutes(breakGlass, authorize, () => policy.revision),
    // The web console at /console/: reviews go through the same approvals stage as /v1/changes.
    console: (control) => createConsole({ ...control, clock, logger, config, identify, approvals, controlUrl: () => controlUrl, breakGlass, ...(drift ? { drift: () => drift.findings() } : {}) }),
    audit: auditRoutes(evidence, config, { clock, logger }, () => policy.revision.sha256),
    ...(evidence.timestamper.embedded ? { tsa: evidence.timestamper.embedded } : {}),
    readiness: readinessOf(evidence, config, policy),
  });

  const stopAll = async () => {
    breakGlass.close();
    await drift?.close();
    await summaries.close();
    await attestations?.close();
    delivery.close();
    await evidence.close();
    await store.close();
  };
  const ports = { host: config.host, headerBytes: config.limits.headerBytes };
  const servers = await listenAll(proxies, controlApp, { ...ports, controlPort: config.controlPort }).catch(async (err: unknown) => {
    await stopAll(); // a port that cannot be taken leaves nothing open behind it
    throw err;
  });
  controlUrl = servers.control.url;
  const proxyUrls = Object.fromEntries(proxies.flatMap((plan, i) => plan.served.map(({ id, prefix }) => [id, servers.proxies[i]!.url + prefix])));
  logger.info('flaggate listening', { proxy: servers.proxies[0]!.url, platforms: proxyUrls, control: servers.control.url, policy: policy.revision });

  return {
    proxyUrl: servers.proxies[0]!.url,
    proxyUrls,
    controlUrl: servers.control.url,
    ledger: evidence.ledger,
    metrics,
    checkpointer: evidence.checkpointer,
    drift,
    breakGlass,
    reloadPolicy: delivery.reloadNow,
    async close() {
      await Promise.all([...servers.proxies.map((p) => p.close()), servers.control.close()]);
      await stopAll();
    },
  };
}

/** One proxy port's app: every request through the pipeline, unless the upstream copy says the ledger may not serve. */
function proxyApp(plan: ProxyPlan, config: Readonly<Config>, upstreamGuard: Evidence['upstreamGuard'], metrics: Metrics) {
  return createProxyApp({
    bodyBytes: config.limits.bodyBytes,
    handle: (req) => {
      const refused = upstreamGuard.refusal();
      if (!refused) return plan.handle(req);
      metrics.errors.inc({ code: refused.code });
      return Promise.resolve(errorReply(refused));
    },
    onError: (error) => (metrics.errors.inc({ code: error.code }), errorReply(error)),
  });
}

/**
 * A crash between a decision and its outcome leaves the change in doubt: settle it from the
 * platform's state, then cover and seal the tail, before taking new requests (not on a ledger its
 * upstream is ahead of: that one refuses service until it is restored).
 */
async function settleCrashTail(evidence: Evidence, platforms: Platforms, { logger, clock, forwardTimeoutMs }: { logger: Logger; clock: Clock; forwardTimeoutMs: number }): Promise<void> {
  if (evidence.upstreamGuard.refusal()) return;
  const { ledger } = evidence;
  const reconciled = await reconcileInDoubt({
    entriesAfter: ledger.entriesAfter,
    head: ledger.head,
    getMeta: ledger.getMeta,
    setMeta: ledger.setMeta,
    append: (entry) => evidence.record.append(entry),
    // Each change settled from the state of the platform it was made on.
    readState: (change) => platforms.readState(change),
    settled: (change, current) => platforms.settled(change, current),
    forwardTimeoutMs,
    now: () => clock.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  if (reconciled.length > 0) {
    logger.warn('reconciled changes left in doubt by a crash', { reconciled });
    evidence.replicator.nudge();
  }
  await evidence.sealTail();
}

/** Scheduled attestation reports (`attest.scheduleSeconds`), when on. */
function startAttestations(config: Readonly<Config>, evidence: Evidence, runningBundle: () => string, deps: { clock: Clock; logger: Logger; metrics: Metrics }) {
  if (config.attest.scheduleSeconds === 0) return undefined;
  return scheduleAttestations({
    ...deps,
    intervalSeconds: config.attest.scheduleSeconds,
    db: evidence.ledger.path,
    dataDir: config.dataDir,
    keyring: evidence.keyring,
    bundle: () => archivedBundlePath(join(config.dataDir, BUNDLE_ARCHIVE_DIR), runningBundle()),
    sealHead: evidence.sealTail,
    verify: { maxDelaySeconds: config.verify.maxTimestampDelaySeconds, skewSeconds: config.verify.clockSkewSeconds },
  });
}

/** What the control port's audit routes read: entries with the token covering each, export, verify. */
function auditRoutes(evidence: Evidence, config: Readonly<Config>, { clock, logger }: { clock: Clock; logger: Logger }, runningBundle: () => string) {
  const { ledger, keyring, timestamper } = evidence;
  // Each entry as stored, plus the RFC 3161 token that covers it (found after the fact: the
  // token is taken once the entry is committed, so it cannot be inside the hashed entry).
  const withToken = (e: AuditEntry) => {
    const token = timestamper.coveringToken(e.seq);
    return { ...e, covered_by: token ? { token_id: token.id, covers_seq: token.coversSeq, gen_time: token.genTime, tsa: token.tsa } : null };
  };
  return {
    entriesAfter: (after: number, limit: number) => ledger.entriesAfter(after, limit).map(withToken),
    search: async (filters: EntrySearch, page: EntryPage) => {
      evidence.commitWaiting(); // read from the file: what waits for a group is committed first
      const found = await evidence.searcher.search(filters, page);
      return { entries: found.rows.map((row) => readRow(row, withToken)), olderExist: found.olderExist, newerExist: found.newerExist };
    },
    rowsAfter: ledger.rowsAfter,
    head: ledger.head,
    keys: () => keyring.jwks(),
    exportTo: (dir: string, options: Omit<Parameters<typeof exportLedgerArchive>[0], 'ledger' | 'keyring' | 'timestamper' | 'clock' | 'out' | 'maxBytes'>) =>
      exportLedgerArchive({
        ledger, keyring, timestamper, clock, out: dir, maxBytes: config.audit.exportMaxBytes, bundleArchive: join(config.dataDir, BUNDLE_ARCHIVE_DIR),
        runningBundle: runningBundle(),
        retention: retentionPolicy(config.archive),
        verify: { maxDelaySeconds: config.verify.maxTimestampDelaySeconds, skewSeconds: config.verify.clockSkewSeconds },
        attestMaxEntries: config.attest.exportMaxEntries,
        onAttestSkipped: (why) => logger.warn('export package without its attestation', { why }),
        ...options,
      }),
    checkpoints: (from?: number, to?: number) => ledger.checkpoints(from, to),
    verify: sharedVerify(() => verifyLocal(evidence, config.verify)),
  };
}


/** A row as an entry with its token; a body that is not one (edited behind the ledger) as what it holds. */
function readRow<T extends AuditEntry>(row: StoredRow, withToken: (e: AuditEntry) => T) {
  try {
    return withToken(rowToEntry(row));
  } catch {
    return { seq: row.seq, hash: row.hash, prev_hash: row.prev_hash, unreadable: row.body.slice(0, 4096) };
  }
}

/** Every proxy port, then the control port; one that cannot be taken closes those already open. */
async function listenAll(proxies: Array<{ app: Parameters<typeof listen>[0]; port: number }>, controlApp: Parameters<typeof listen>[0], o: { host: string; headerBytes: number; controlPort: number }) {
  const open: Listening[] = [];
  try {
    for (const p of proxies) open.push(await listen(p.app, { host: o.host, port: p.port, headerBytes: o.headerBytes }));
    const control = await listen(controlApp, { host: o.host, port: o.controlPort, headerBytes: o.headerBytes });
    return { proxies: open, control };
  } catch (err) {
    await Promise.all(open.map((l) => l.close()));
    throw err;
  }
}
