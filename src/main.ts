import { changeRoutes } from './approvals/index.js';
import { reconcileInDoubt, type Checkpointer, type Ledger } from './audit/index.js';
import { systemClock, type Clock } from './clock.js';
import { buildApprovals, listen, openEvidence, readinessOf, recordRefusalSummaries, verifyLocal, type Evidence } from './compose/index.js';
import type { Config } from './config/index.js';
import { createControlApp } from './control/index.js';
import { createConsole } from './console/index.js';
import { exportLedgerArchive } from './export-ledger.js';
import { ensurePrivateDir } from './private-path.js';
import { createIdentify } from './identify/index.js';
import { createProxyApp, createRefusalLimiter } from './intercept/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorReply, handleRequest, resumeHeld, type Stages } from './pipeline/index.js';
import { platformPlugin, type Platform } from './platforms/index.js';
import { createPolicyEngine, loadBundleTrust, watchPolicyBundle, withShadowPolicy } from './policy/index.js';
import { asFlaggateError } from './errors.js';
import { checkPostgresLogins } from './replicate/index.js';
import { createDriftWatcher, driftProbeFor, driftRoutes, type DriftWatcher } from './drift/index.js';
import { breakGlassRoutes, createBreakGlassReviews, type BreakGlassReviews } from './break-glass/index.js';

export interface Flaggate {
  proxyUrl: string;
  controlUrl: string;
  ledger: Ledger;
  metrics: Metrics;
  checkpointer: Checkpointer;
  /** The drift watcher, for platforms that have a probe. */
  drift: DriftWatcher | undefined;
  /** Break-glass changes and their retrospective reviews. */
  breakGlass: BreakGlassReviews;
  /** Loads the policy bundle again now (SIGHUP); a bad bundle is refused and the running one stays. */
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
  const metrics = createMetrics({ defaultMetrics: true, environments: [...config.metrics.environments, config.platform.environment] });
  await checkPostgresLogins(config, logger); // a sidecar that could write another's chain does not start
  const { policy, active, shadowed, policyWatch } = await openPolicy(config, metrics, logger);
  const { identify } = createIdentify({ identity: config.identity, dataDir: config.dataDir, tokenBytes: config.limits.tokenBytes, clock });
  const platform = await openPlatform(config, logger);
  const evidence = await openEvidence(config, { clock, logger, metrics });
  const { record, upstreamGuard } = evidence;
  const refusals = createRefusalLimiter({ perSecond: config.audit.refusals.perSecond, burst: config.audit.refusals.burst, windowMs: config.audit.refusals.windowSeconds * 1000, clock });
  const summaries = recordRefusalSummaries({ refusals, record, platform: platform.name, policy, logger, windowSeconds: config.audit.refusals.windowSeconds });
  let controlUrl: string | undefined;
  // Approved changes go back through the pipeline (`stages` is complete by the time one is approved).
  const { approvals, store } = buildApprovals(config, { clock, logger, policy, platform, record, resume: (held) => resumeHeld(held, stages), controlUrl: () => controlUrl });
  const contextClaims = { reasonClaim: config.identity.reasonClaim, ticketClaim: config.identity.ticketClaim };
  const stages: Stages = { clock, metrics, logger, identify, platform, policy, record, refusals, approvals, contextClaims, breakGlassReviewSeconds: config.breakGlass.reviewSeconds };
  await settleCrashTail(evidence, platform, logger);
  const drift = await startDrift(config, evidence, { clock, logger, metrics });
  const breakGlass = createBreakGlassReviews({ ledger: evidence.ledger, append: (e) => evidence.record.append(e), clock });
  metrics.setOverdueReviews(() => breakGlass.overdue());
  // Series start at 0, so the first break-glass is an increase an alert rule can see.
  for (const environment of new Set([...config.metrics.environments, config.platform.environment].map((e) => metrics.changeLabels({ action: '', environment: e }).environment))) {
    metrics.breakGlass.inc({ platform: platform.name, environment }, 0);
  }

  const proxyApp = createProxyApp({
    bodyBytes: config.limits.bodyBytes,
    handle: (req) => {
      const refused = upstreamGuard.refusal();
      if (!refused) return handleRequest(req, stages);
      metrics.errors.inc({ code: refused.code });
      return Promise.resolve(errorReply(refused));
    },
    onError: (error) => (metrics.errors.inc({ code: error.code }), errorReply(error)),
  });
  const controlApp = createControlApp({
    clock, logger, metrics, identify,
    policy: active,
    ...(shadowed ? { shadow: shadowed.shadowReport } : {}),
    ...(config.metrics.bearerToken ? { metricsToken: config.metrics.bearerToken } : {}),
    changes: (authorize, identified) => changeRoutes(approvals, authorize, identified),
    ...(drift ? { drift: (authorize: Parameters<typeof driftRoutes>[1]) => driftRoutes(drift, authorize, () => policy.revision) } : {}),
    breakGlass: (authorize) => breakGlassRoutes(breakGlass, authorize, () => policy.revision),
    // The web console at /console/: reviews go through the same approvals stage as /v1/changes.
    console: (control) => createConsole({ ...control, clock, logger, config, identify, approvals, breakGlass, controlUrl: () => controlUrl }),
    audit: auditRoutes(evidence, config, clock),
    ...(evidence.timestamper.embedded ? { tsa: evidence.timestamper.embedded } : {}),
    readiness: readinessOf(evidence, config, policy),
  });

  const stopAll = async () => {
    breakGlass.close();
    await drift?.close();
    await summaries.close();
    policyWatch.close();
    await evidence.close();
    await store.close();
  };
  const ports = { host: config.host, headerBytes: config.limits.headerBytes };
  const servers = await listenBoth(proxyApp, controlApp, { ...ports, proxyPort: config.proxyPort, controlPort: config.controlPort }).catch(async (err: unknown) => {
    await stopAll(); // a port that cannot be taken leaves nothing open behind it
    throw err;
  });
  controlUrl = servers.control.url;
  logger.info('flaggate listening', { proxy: servers.proxy.url, control: servers.control.url, platform: platform.name, policy: policy.revision });

  return {
    proxyUrl: servers.proxy.url,
    controlUrl: servers.control.url,
    ledger: evidence.ledger,
    metrics,
    checkpointer: evidence.checkpointer,
    drift,
    breakGlass,
    reloadPolicy: policyWatch.reloadNow,
    async close() {
      await Promise.all([servers.proxy.close(), servers.control.close()]);
      await stopAll();
    },
  };
}

/**
 * The policy engine: with pinned bundle keys only a bundle that verifies loads, now and on every
 * reload; a shadow bundle, when configured, decides beside the active one (only the active counts).
 */
async function openPolicy(config: Readonly<Config>, metrics: Metrics, logger: Logger) {
  const trust = await loadBundleTrust(config.policy, config.mode);
  const active = await createPolicyEngine({ bundlePath: config.policy.bundle!, trust });
  const shadowed = config.policy.shadow
    ? withShadowPolicy(active, await createPolicyEngine({ bundlePath: config.policy.shadow, trust }), {
        onDisagreement: (d) => metrics.policyShadowDisagreements.inc({ kind: d.kind }),
      })
    : undefined;
  const policy = shadowed ?? active;
  const policyWatch = watchPolicyBundle({
    engine: policy,
    bundlePath: config.policy.bundle!,
    ...(config.policy.watchIntervalMs ? { intervalMs: config.policy.watchIntervalMs } : {}),
    onReload: (r) => {
      metrics.policyReloads.inc({ result: r.ok ? 'loaded' : 'refused' });
      if (!r.ok) metrics.policyBundleRefusals.inc({ code: asFlaggateError(r.error).code });
      if (r.ok) logger.info('policy bundle reloaded', { revision: r.revision, sha256: r.sha256 });
      else logger.error('policy bundle refused; the running policy stays', { error: String(r.error) });
    },
  });
  return { policy, active, shadowed, policyWatch };
}

async function openPlatform(config: Readonly<Config>, logger: Logger): Promise<Platform> {
  const plugin = platformPlugin(config.platform.name);
  const seeded = plugin.seed?.(config.platform);
  if (seeded) logger.info(seeded);
  return plugin.create(config.platform);
}

/**
 * A crash between a decision and its outcome leaves the change in doubt: settle it from the
 * platform's state, then cover and seal the tail, before taking new requests (not on a ledger its
 * upstream is ahead of: that one refuses service until it is restored).
 */
async function settleCrashTail(evidence: Evidence, platform: Platform, logger: Logger): Promise<void> {
  if (evidence.upstreamGuard.refusal()) return;
  const { ledger } = evidence;
  const reconciled = await reconcileInDoubt({
    entriesAfter: ledger.entriesAfter,
    head: ledger.head,
    getMeta: ledger.getMeta,
    setMeta: ledger.setMeta,
    append: (entry) => evidence.record.append(entry),
    readState: (change) => platform.readState(change),
    settled: (change, current) => platform.settled(change, current),
  });
  if (reconciled.length > 0) {
    logger.warn('reconciled changes left in doubt by a crash', { reconciled });
    evidence.replicator.nudge();
  }
  await evidence.sealTail();
}

/**
 * Drift: changes made on the platform around flaggate, found on an interval and on demand. A
 * check runs now when checks are periodic (changes made while stopped are found at once); on
 * demand only, just the first baseline is taken, so that the first check has something to compare.
 */
async function startDrift(config: Readonly<Config>, evidence: Evidence, deps: { clock: Clock; logger: Logger; metrics: Metrics }): Promise<DriftWatcher | undefined> {
  const probe = driftProbeFor(config.platform);
  if (!probe) return undefined;
  const drift = createDriftWatcher({
    probe,
    ledger: evidence.ledger,
    append: (e) => evidence.record.append(e),
    ...deps,
    intervalSeconds: config.drift.intervalSeconds,
    skewMs: config.drift.clockSkewSeconds * 1000,
  });
  await (config.drift.intervalSeconds > 0 ? drift.checkNow() : drift.takeBaseline()).catch((err: unknown) => deps.logger.error('the first drift check failed', { error: String(err) }));
  return drift;
}

/** What the control port's audit routes read: entries with the token covering each, export, verify. */
function auditRoutes(evidence: Evidence, config: Readonly<Config>, clock: Clock) {
  const { ledger, keyring, timestamper } = evidence;
  return {
    // Each entry as stored, plus the RFC 3161 token that covers it (found after the fact: the
    // token is taken once the entry is committed, so it cannot be inside the hashed entry).
    entriesAfter: (after: number, limit: number) =>
      ledger.entriesAfter(after, limit).map((e) => {
        const token = timestamper.coveringToken(e.seq);
        return { ...e, covered_by: token ? { token_id: token.id, covers_seq: token.coversSeq, gen_time: token.genTime, tsa: token.tsa } : null };
      }),
    rowsAfter: ledger.rowsAfter,
    head: ledger.head,
    keys: () => keyring.jwks(),
    exportTo: (dir: string, options: Omit<Parameters<typeof exportLedgerArchive>[0], 'ledger' | 'keyring' | 'timestamper' | 'clock' | 'out' | 'maxBytes'>) =>
      exportLedgerArchive({ ledger, keyring, timestamper, clock, out: dir, maxBytes: config.audit.exportMaxBytes, ...options }),
    checkpoints: (from?: number, to?: number) => ledger.checkpoints(from, to),
    verify: () => verifyLocal(evidence, config.verify),
  };
}

async function listenBoth(proxyApp: Parameters<typeof listen>[0], controlApp: Parameters<typeof listen>[0], o: { host: string; headerBytes: number; proxyPort: number; controlPort: number }) {
  const proxy = await listen(proxyApp, { host: o.host, port: o.proxyPort, headerBytes: o.headerBytes });
  try {
    return { proxy, control: await listen(controlApp, { host: o.host, port: o.controlPort, headerBytes: o.headerBytes }) };
  } catch (err) {
    await proxy.close();
    throw err;
  }
}
