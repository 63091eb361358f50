import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { changeRoutes, changeStoreKind, createApprovals, createApprovalTokenVerifier, openChangeStoreFor } from './approvals/index.js';
import { refusalSummaryEntry } from './audit/new-entry.js';
import {
  createCheckpointer,
  createGroupCommit,
  entryTimesFrom,
  firstFailure,
  openKeyring,
  openLedger,
  reconcileInDoubt,
  verifyLedger,
  type Checkpointer,
  type Keyring,
  type Ledger,
} from './audit/index.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { Config } from './config/schema.js';
import { createControlApp } from './control/index.js';
import { platformPlugin } from './platforms/index.js';
import { createIdentify } from './identify/index.js';
import { exportLedger } from './export-ledger.js';
import { createProxyApp, createRefusalLimiter } from './intercept/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorReply, handleRequest, replicateRefusal, type Stages } from './pipeline.js';
import { asFlaggateError } from './errors.js';
import { createPolicyEngine, loadBundleTrust, watchPolicyBundle, withShadowPolicy } from './policy/index.js';
import { createTimestamper, verifyCoverage, type Timestamper } from './timestamp/index.js';
import { compareWithUpstream, createCheckpointPublisher, createReplicator, createSinks, createUpstreamGuard, createUpstreamWatch, upstreamTrust, type UpstreamCheck } from './replicate/index.js';
import { checkPostgresLogins } from './replicate/check-logins.js';

export interface Flaggate {
  proxyUrl: string;
  controlUrl: string;
  ledger: Ledger;
  metrics: Metrics;
  checkpointer: Checkpointer;
  /** Loads the policy bundle again now (SIGHUP); a bad bundle is refused and the running one stays. */
  reloadPolicy(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The composition root: config → stages → the two listening ports. Tests and `flaggate serve`
 * both start flaggate through here.
 */
export async function startFlaggate(config: Readonly<Config>, options: { clock?: Clock; logger?: Logger } = {}): Promise<Flaggate> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  const metrics = createMetrics({ defaultMetrics: true, environments: [...config.metrics.environments, config.platform.environment] });
  // Before anything is opened: a sidecar that could write another's chain does not start.
  await checkPostgresLogins(config, logger);

  // Pinned bundle keys: with one, only a bundle that verifies loads, now and on every reload.
  const policyTrust = await loadBundleTrust(config.policy, config.mode);
  const activePolicy = await createPolicyEngine({ bundlePath: config.policy.bundle!, trust: policyTrust });
  // Shadow evaluation: a candidate decides beside the active bundle; only the active decision counts.
  const shadowed = config.policy.shadow
    ? withShadowPolicy(activePolicy, await createPolicyEngine({ bundlePath: config.policy.shadow, trust: policyTrust }), {
        onDisagreement: (d) => metrics.policyShadowDisagreements.inc({ kind: d.kind }),
      })
    : undefined;
  const policy = shadowed ?? activePolicy;
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
  const { identify } = createIdentify({ identity: config.identity, dataDir: config.dataDir, tokenBytes: config.limits.tokenBytes, clock });
  const plugin = platformPlugin(config.platform.name);
  const seeded = plugin.seed?.(config.platform);
  if (seeded) logger.info(seeded);
  const platform = await plugin.create(config.platform);
  const { forward } = platform;
  const adapter = platform;
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  const groupCommit = createGroupCommit(ledger);
  const refusals = createRefusalLimiter({
    perSecond: config.audit.refusals.perSecond,
    burst: config.audit.refusals.burst,
    windowMs: config.audit.refusals.windowSeconds * 1000,
    clock,
  });
  const keyring = await openKeyring(config.audit.keysDir, clock);
  const checkpointer = createCheckpointer({
    ledger,
    keyring,
    clock,
    logger,
    everyEntries: config.audit.checkpointEveryEntries,
    everySeconds: config.audit.checkpointEverySeconds,
    publish: () => checkpointPublisher.publish(),
  });
  const timestamper = createTimestamper({
    config: config.timestamp,
    dataDir: config.dataDir,
    ledgerPath: config.audit.file,
    head: ledger.head,
    clock,
    metrics,
    logger,
  });
  const sinks = createSinks(config.replicate.sinks, { production: config.mode === 'production' });
  const checkpointPublisher = createCheckpointPublisher({ source: ledger, sinks, logger, onConflict: (_sink, err) => metrics.errors.inc({ code: err.code }) });
  const replicator = createReplicator({
    source: ledger,
    sinks,
    metrics,
    clock,
    logger,
    maxBacklog: config.replicate.maxBacklog,
    batchSize: config.replicate.batchSize,
  });
  // A local chain cut below, or forked from, what an upstream copy holds (entries or a signed
  // checkpoint) is reported, and nothing is served or appended from then on (the guard); readiness
  // names each copy that disagrees and who wrote it (the watch, cached so /readyz never hangs).
  const upstreamWatch = createUpstreamWatch({
    check: () => compareWithUpstream({ sinks, chainId: ledger.chainId, localHead: ledger.head, rowsAfter: ledger.rowsAfter, keys: () => keyring.jwks() }),
    onDiverged: (check) => logger.error('local chain disagrees with the upstream copy; refusing to serve', { ...check }),
  });
  const upstreamGuard = createUpstreamGuard(() => upstreamWatch.refresh(), (error) => metrics.errors.inc({ code: error.code }));
  for (const check of await upstreamGuard.refresh()) {
    if (check.ok) logger.info('upstream copy compared', { ...check });
  }
  replicator.nudge(); // drain whatever the last run left behind
  // The newest entries covered by a token and sealed by a checkpoint: the ledger then verifies as it
  // stands, without a running sidecar's help (on stop, and at start-up after a crash).
  const sealTail = async () => {
    await timestamper.coverHead().catch((err: unknown) => logger.error('the newest entries are not covered by a timestamp token', { error: String(err) }));
    await checkpointer.checkpointNow();
  };

  const stages: Stages = {
    clock,
    metrics,
    logger,
    identify,
    adapter,
    policy,
    record: {
      async append(entry) {
        const refused = upstreamGuard.refusal();
        if (refused) throw refused;
        const appended = config.audit.groupCommit ? await groupCommit.append(entry) : ledger.append(entry);
        metrics.ledgerEntries.inc({ type: appended.entry_type });
        checkpointer.afterAppend(appended.seq);
        return appended;
      },
    },
    timestamp: timestamper,
    replicate: replicator,
    refusals,
    forward,
  };
  // Refusals counted beyond an actor's rate are recorded as one summary entry per actor and window.
  const recordRefusalSummaries = async (all: boolean) => {
    for (const summary of refusals.drain(all)) {
      try {
        const entry = await stages.record.append(refusalSummaryEntry({ ...summary, platform: adapter.name, policy: policy.revision }));
        await replicateRefusal(stages, entry, logger);
      } catch (err) {
        logger.error('refusal summary not recorded', { actor: summary.actor.id, refusals: summary.refusals, error: String(err) });
      }
    }
  };
  const summaryTimer = setInterval(() => void recordRefusalSummaries(false), Math.min(1000, config.audit.refusals.windowSeconds * 1000));
  summaryTimer.unref();
  const changeStore = openChangeStoreFor(config);
  let controlUrl: string | undefined;
  const approvals = createApprovals({
    stages,
    store: changeStore,
    logger,
    expirySeconds: config.approvals.expirySeconds,
    verifyApprovalToken: createApprovalTokenVerifier({
      issuers: config.approvals.issuers,
      leewaySeconds: config.identity.leewaySeconds,
      tokenBytes: config.limits.tokenBytes,
      maxLifetimeSeconds: config.approvals.tokenMaxLifetimeSeconds,
      chainId: config.audit.chainId,
      sharedJtis: changeStoreKind(config) === 'postgres',
      clock,
    }),
    controlUrl: () => controlUrl,
    evidence: (id) => changeStore.evidence(id),
    sidecar: { chainId: config.audit.chainId, platform: adapter.name, targetSha256: sha256Hex(config.platform.targetUrl ?? '') },
    peerChains: config.approvals.peerChains,
  });
  stages.approvals = approvals;

  // A crash between a decision and its outcome leaves the change in doubt: settle it from the
  // platform's state before taking new requests (not on a ledger its upstream is ahead of).
  const reconciled = upstreamGuard.refusal() ? [] : await reconcileInDoubt({
    entriesAfter: ledger.entriesAfter,
    head: ledger.head,
    getMeta: ledger.getMeta,
    setMeta: ledger.setMeta,
    append: (entry) => stages.record.append(entry),
    readState: (change) => adapter.readState(change),
    settled: (change, current) => adapter.settled(change, current),
  });
  if (reconciled.length > 0) {
    logger.warn('reconciled changes left in doubt by a crash', { reconciled });
    replicator.nudge();
  }
  if (!upstreamGuard.refusal()) await sealTail();

  const proxyApp = createProxyApp({
    bodyBytes: config.limits.bodyBytes,
    handle: (req) => {
      const refused = upstreamGuard.refusal();
      if (!refused) return handleRequest(req, stages);
      metrics.errors.inc({ code: refused.code });
      return Promise.resolve(errorReply(refused));
    },
    onError: (error) => {
      metrics.errors.inc({ code: error.code });
      return errorReply(error);
    },
  });
  const controlApp = createControlApp({
    clock,
    logger,
    metrics,
    ...(config.metrics.bearerToken ? { metricsToken: config.metrics.bearerToken } : {}),
    identify,
    policy: activePolicy,
    ...(shadowed ? { shadow: shadowed.shadowReport } : {}),
    changes: (authorize, identified) => changeRoutes(approvals, authorize, identified),
    audit: {
      // Each entry as stored, plus the RFC 3161 token that covers it (found after the fact: the
      // token is taken once the entry is committed, so it cannot be inside the hashed entry).
      entriesAfter: (after, limit) =>
        ledger.entriesAfter(after, limit).map((e) => {
          const token = timestamper.coveringToken(e.seq);
          return { ...e, covered_by: token ? { token_id: token.id, covers_seq: token.coversSeq, gen_time: token.genTime, tsa: token.tsa } : null };
        }),
      rowsAfter: ledger.rowsAfter,
      head: ledger.head,
      keys: () => keyring.jwks(),
      exportTo: (dir, options) => exportLedger({ ledger, keyring, timestamper, clock, out: dir, ...options }),
      checkpoints: (from, to) => ledger.checkpoints(from, to),
      verify: async () => {
        await timestamper.coverHead().catch(() => undefined); // an outage shows as uncovered entries below
        const upstream = await upstreamGuard.refresh();
        return { ...(await verifyLocal(ledger, keyring, timestamper, upstream, config.verify)), upstream };
      },
    },
    ...(timestamper.embedded ? { tsa: timestamper.embedded } : {}),
    // Ready means a change sent now could be recorded and forwarded: the ledger answers and no
    // required sink is so far behind that changes are refused.
    readiness: async () => {
      const head = ledger.head().seq;
      const acked = replicator.acked();
      const upstream = Object.fromEntries(
        config.replicate.sinks
          .filter((sink) => sink.required)
          .map((sink) => {
            const behind = head - (acked[sink.name] ?? 0);
            return [`sink:${sink.name}`, { ok: behind <= config.replicate.maxBacklog, detail: `${behind} entries behind` }];
          }),
      );
      const checks = await upstreamWatch.current();
      upstreamGuard.observe(checks);
      const refused = upstreamGuard.refusal();
      const copies = Object.fromEntries(
        checks.filter((c) => !c.ok).map((c) => [`upstream:${c.sink}`, { ok: false, code: c.kind === 'cut' ? 'AUDIT_UPSTREAM_AHEAD' : 'AUDIT_CHAIN_BROKEN', detail: `${c.kind}: ${c.message}` }]),
      );
      const checkpoints = Object.fromEntries(
        [...checkpointPublisher.conflicts()].map(([sink, err]) => [`checkpoints:${sink}`, { ok: false, code: err.code, detail: err.message }]),
      );
      return {
        ledger: probe(() => ledger.head()),
        policy: { ok: true, detail: policy.revision.revision },
        'upstream-copy': refused ? { ok: false, code: refused.code, detail: refused.message } : { ok: true },
        ...upstream,
        ...copies,
        ...checkpoints,
      };
    },
  });

  const proxy = await listen(createServer({ maxHeaderSize: config.limits.headerBytes }, proxyApp), config.host, config.proxyPort);
  const control = await listen(createServer({ maxHeaderSize: config.limits.headerBytes }, controlApp), config.host, config.controlPort);
  controlUrl = control.url;
  logger.info('flaggate listening', { proxy: proxy.url, control: control.url, platform: adapter.name, policy: policy.revision });

  return {
    proxyUrl: proxy.url,
    controlUrl: control.url,
    ledger,
    metrics,
    checkpointer,
    reloadPolicy: policyWatch.reloadNow,
    async close() {
      await Promise.all([closeServer(proxy.server), closeServer(control.server)]);
      clearInterval(summaryTimer);
      await recordRefusalSummaries(true);
      policyWatch.close();
      if (!upstreamGuard.refusal()) {
        await sealTail();
        replicator.nudge(); // the tail and its checkpoint go upstream before the sinks close
      }
      await checkpointer.close();
      timestamper.close();
      await replicator.close();
      await changeStore.close();
      ledger.close();
    },
  };
}

/**
 * The local chain against every checkpoint it holds and every head and checkpoint its upstream
 * copies hold (signatures checked with this sidecar's keyring), and its timestamp tokens, each
 * bound to the time of the entries it covers. `ok: false` always names its failure.
 */
async function verifyLocal(ledger: Ledger, keyring: Keyring, timestamper: Timestamper, upstream: UpstreamCheck[], bounds: Config['verify']) {
  const trust = upstreamTrust(upstream);
  const chain = await verifyLedger({
    read: ledger.rowsAfter,
    checkpoints: [...ledger.checkpoints(), ...trust.checkpoints],
    keys: keyring.jwks(),
    chainId: ledger.chainId,
    extraHeads: trust.extraHeads,
  });
  const head = ledger.head();
  const timestamps = verifyCoverage({
    tokens: timestamper.tokens(),
    rowHashAt: (seq) => ledger.rowsAfter(seq - 1, 1).find((r) => r.seq === seq)?.hash,
    headSeq: head.seq,
    trust: timestamper.trust,
    times: { entryTime: entryTimesFrom(ledger.rowsAfter), maxDelaySeconds: bounds.maxTimestampDelaySeconds, skewSeconds: bounds.clockSkewSeconds },
  });
  const failure = firstFailure({ chain, upstream, timestamps });
  return { ...chain, ok: failure === undefined, ...(failure ? { failure } : {}), timestamps };
}

function probe(check: () => unknown): { ok: boolean; detail?: string } {
  try {
    check();
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: String(err) };
  }
}

async function listen(server: Server, host: string, port: number): Promise<{ server: Server; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${shownHost}:${address.port}` };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
