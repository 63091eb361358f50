import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createAdapter } from './adapters/registry.js';
import { seedFlagFile } from './adapters/flagd/index.js';
import { openLedger, verifyChain, type Ledger } from './audit/index.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { Config } from './config/schema.js';
import { createControlApp } from './control/index.js';
import { createFlagdFileForwarder, createHttpForwarder, type Forward } from './forward/index.js';
import { createIdentify } from './identify/index.js';
import { createProxyApp } from './intercept/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorReply, handleRequest, type Stages } from './pipeline.js';
import { createPolicyEngine } from './policy/index.js';
import { createReplicator, createSinks } from './replicate/index.js';

export interface Flaggate {
  proxyUrl: string;
  controlUrl: string;
  ledger: Ledger;
  metrics: Metrics;
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

  const policy = await createPolicyEngine({ bundlePath: config.policy.bundle! });
  const { identify } = createIdentify({ identity: config.identity, dataDir: config.dataDir, tokenBytes: config.limits.tokenBytes, clock });
  if (config.platform.name === 'flagd' && seedFlagFile(config.platform.targetUrl!)) {
    logger.info('created the example flag file', { path: config.platform.targetUrl });
  }
  const adapter = await createAdapter(config.platform);
  const forward = createForward(config.platform);
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  const sinks = createSinks(config.replicate.sinks);
  const replicator = createReplicator({ source: ledger, sinks, metrics });

  const stages: Stages = {
    clock,
    metrics,
    logger,
    identify,
    adapter,
    policy,
    record: {
      append(entry) {
        const appended = ledger.append(entry);
        metrics.ledgerEntries.inc({ type: appended.entry_type });
        return appended;
      },
    },
    replicate: replicator,
    forward,
  };

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
    audit: {
      entriesAfter: ledger.entriesAfter,
      rowsAfter: ledger.rowsAfter,
      head: ledger.head,
      verify: () => verifyChain(ledger.rowsAfter, { chainId: ledger.chainId }),
    },
    readiness: async () => ({
      ledger: probe(() => ledger.head()),
      policy: { ok: true, detail: policy.revision.revision },
    }),
  });

  const proxy = await listen(createServer({ maxHeaderSize: config.limits.headerBytes }, proxyApp), config.host, config.proxyPort);
  const control = await listen(createServer({ maxHeaderSize: config.limits.headerBytes }, controlApp), config.host, config.controlPort);
  logger.info('flaggate listening', { proxy: proxy.url, control: control.url, platform: adapter.name, policy: policy.revision });

  return {
    proxyUrl: proxy.url,
    controlUrl: control.url,
    ledger,
    metrics,
    async close() {
      await Promise.all([closeServer(proxy.server), closeServer(control.server)]);
      await replicator.close();
      ledger.close();
    },
  };
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
