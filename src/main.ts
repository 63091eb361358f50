import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createAdapter } from './adapters/registry.js';
import { changeRoutes, createApprovals, createApprovalTokenVerifier, openChangeStoreFor } from './approvals/index.js';
import { seedFlagFile } from './adapters/flagd/index.js';
import { createCheckpointer, createGroupCommit, openKeyring, openLedger, reconcileInDoubt, verifyLedger, type Checkpointer, type Keyring, type Ledger } from './audit/index.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { Config } from './config/schema.js';
import { createControlApp } from './control/index.js';
import { createFlagdFileForwarder, createHttpForwarder, type Forward } from './forward/index.js';
import { createIdentify } from './identify/index.js';
import { exportLedgerArchive } from './export-ledger.js';
import { createAttemptLimiter, createProxyApp } from './intercept/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorReply, handleRequest, type Stages } from './pipeline.js';
import { ensurePrivateDir } from './private-path.js';
import { createPolicyEngine, watchPolicyBundle } from './policy/index.js';
import { createTimestamper, verifyCoverage, type Timestamper } from './timestamp/index.js';
import { compareWithUpstream, createCheckpointPublisher, createReplicator, createSinks } from './replicate/index.js';

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
  const metrics = createMetrics({ defaultMetrics: true });
  ensurePrivateDir(config.dataDir); // held request bodies, headers and keys live here

  const policy = await createPolicyEngine({ bundlePath: config.policy.bundle! });
  const policyWatch = watchPolicyBundle({
    engine: policy,
    bundlePath: config.policy.bundle!,
    ...(config.policy.watchIntervalMs ? { intervalMs: config.policy.watchIntervalMs } : {}),
    onReload: (r) => {
      metrics.policyReloads.inc({ result: r.ok ? 'loaded' : 'refused' });
      if (r.ok) logger.info('policy bundle reloaded', { revision: r.revision, sha256: r.sha256 });
      else logger.error('policy bundle refused; the running policy stays', { error: String(r.error) });
    },
  });
  const { identify } = createIdentify({ identity: config.identity, dataDir: config.dataDir, tokenBytes: config.limits.tokenBytes, clock });
  if (config.platform.name === 'flagd' && seedFlagFile(config.platform.targetUrl!)) {
    logger.info('created the example flag file', { path: config.platform.targetUrl });
  }
  const adapter = await createAdapter(config.platform);
  const forward = createForward(config.platform);
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  const groupCommit = createGroupCommit(ledger);
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
  const sinks = createSinks(config.replicate.sinks);
  const checkpointPublisher = createCheckpointPublisher({ source: ledger, sinks, logger });
  const replicator = createReplicator({
    source: ledger,
    sinks,
    metrics,
    clock,
    logger,
    maxBacklog: config.replicate.maxBacklog,
    batchSize: config.replicate.batchSize,
  });
  // A cut or forked local chain is reported, not hidden; delivery to that sink then fails closed.
  const checkUpstream = () => compareWithUpstream({ sinks, chainId: ledger.chainId, localHead: ledger.head, rowsAfter: ledger.rowsAfter });
  for (const check of await checkUpstream()) {
    if (!check.ok) logger.error('local chain disagrees with the upstream copy', { ...check });
    else logger.info('upstream copy compared', { ...check });
  }
  replicator.nudge(); // drain whatever the last run left behind

  const stages: Stages = {
    clock,
    metrics,
    logger,
    identify,
    adapter,
    policy,
    record: {
      async append(entry) {
        const appended = config.audit.groupCommit ? await groupCommit.append(entry) : ledger.append(entry);
        metrics.ledgerEntries.inc({ type: appended.entry_type });
        checkpointer.afterAppend(appended.seq);
        return appended;
      },
    },
    timestamp: timestamper,
    replicate: replicator,
    attempts: createAttemptLimiter({ perSecond: 5, burst: 50, clock }),
    forward,
  };
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
      clock,
    }),
    controlUrl: () => controlUrl,
  });
  stages.approvals = approvals;

  // A crash between a decision and its outcome leaves the change in doubt: settle it from the
  // platform's state before taking new requests.
  const reconciled = await reconcileInDoubt({
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
    timestamper.coverSoon(ledger.head().seq, ledger.head().hash);
  }

  const proxyApp = createProxyApp({
    bodyBytes: config.limits.bodyBytes,
    handle: (req) => handleRequest(req, stages),
    onError: (error) => {
      metrics.errors.inc({ code: error.code });
      return errorReply(error);
    },
  });
  const controlApp = createControlApp({
    clock,
    logger,
    metrics,
    identify,
    policy,
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
      exportTo: (dir, options) => exportLedgerArchive({ ledger, keyring, timestamper, clock, out: dir, maxBytes: config.audit.exportMaxBytes, ...options }),
      checkpoints: (from, to) => ledger.checkpoints(from, to),
      verify: async () => {
        await timestamper.coverHead().catch(() => undefined); // an outage shows as uncovered entries below
        const [report, upstream] = await Promise.all([verifyLocal(ledger, keyring, timestamper), checkUpstream()]);
        return { ...report, ok: report.ok && upstream.every((u) => u.ok), upstream };
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
      return {
        ledger: probe(() => ledger.head()),
        policy: { ok: true, detail: policy.revision.revision },
        ...upstream,
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
      policyWatch.close();
      await checkpointer.close();
      timestamper.close();
      await replicator.close();
      await changeStore.close();
      ledger.close();
    },
  };
}

/** The local chain against every checkpoint it holds, signatures checked with this sidecar's keyring. */
async function verifyLocal(ledger: Ledger, keyring: Keyring, timestamper: Timestamper) {
  const chain = await verifyLedger({ read: ledger.rowsAfter, checkpoints: ledger.checkpoints(), keys: keyring.jwks(), chainId: ledger.chainId });
  const head = ledger.head();
  const timestamps = verifyCoverage({
    tokens: timestamper.tokens(),
    rowHashAt: (seq) => ledger.rowsAfter(seq - 1, 1).find((r) => r.seq === seq)?.hash,
    headSeq: head.seq,
    trust: timestamper.trust,
  });
  return { ...chain, ok: chain.ok && timestamps.ok, timestamps };
}

function createForward(platform: Config['platform']): Forward {
  switch (platform.name) {
    case 'flagd':
      return createFlagdFileForwarder({ path: platform.targetUrl! });
    case 'unleash':
      // Unleash admin tokens go bare in Authorization.
      return createHttpForwarder({ baseUrl: platform.targetUrl!, token: platform.targetToken, timeoutMs: platform.timeoutMs });
  }
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
