import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { policyActivatedEntry, type BundleDelivery, type Ledger, type Recorder } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { IN_FORCE, inForceOf, markerText, readInForce } from './in-force.js';
import { openShadowDelivery } from './shadow-delivery.js';
import {
  archiveBundle, BUNDLE_ARCHIVE_DIR, bundleContentSha256, bundlePolicySha256, createPolicyEngine, displayUrl, fetchBundle, loadBundleTrust, openReplacedBundles, pollBundleService,
  readArchivedBundle, readBundleBytes, readLastGood, watchPolicyBundle, writeLastGood, type withShadowPolicy,
  type BundleServiceOptions, type BundleTrust, type LoadedBundle, type PolicyEngine, type PolicyRevision,
} from '../policy/index.js';

type Deps = { metrics: Metrics; logger: Logger };
/**
 * The policy digest (`bundlePolicySha256`) of a bundle about to load, throwing POLICY_BUNDLE_ROLLBACK
 * when a bundle with that policy was in force here and was replaced; '' for unsigned bundles, which
 * are not tracked. `exempt`: the bundle is the one the ledger names as in force.
 */
type RollbackCheck = (bytes: Buffer, sha256: string, exempt?: boolean) => Promise<string>;
/** The bundle a start loads: its engine, bytes, the digest of its policy (`bundlePolicySha256`), and where it came from. */
type First = { engine: PolicyEngine; bytes: Buffer; policy: string; delivered: BundleDelivery };
type Where = {
  ledger: Pick<Ledger, 'getMeta' | 'setMeta' | 'head' | 'entriesAfter'>;
  record: Pick<Recorder, 'settled'>;
  /** Told after a bundle joins the archive (the archive goes upstream from there); never awaited. */
  archived?: () => void;
};

/** The policy engines and how bundles reach them; `start` once the ledger is open. */
export interface PolicyDelivery {
  /** What decides: the active engine, with the shadow beside it when one is configured. */
  policy: PolicyEngine;
  active: PolicyEngine;
  shadowed: ReturnType<typeof withShadowPolicy> | undefined;
  /** Records the bundle in force when it is not the one the chain last named, then watches the file or polls the service. */
  start(where: Where): Promise<void>;
  /** Looks for a new bundle now (SIGHUP): reads the file again, or polls the service. */
  reloadNow(): Promise<void>;
  close(): void;
}

/**
 * Opens the policy: the bundle from its file, or from the bundle service (falling back to the
 * persisted last-good bundle when the service is down or serves a bundle that is refused), always
 * verified against the pinned keys. A start with no usable bundle fails with the refusal's code.
 */
export async function openPolicyDelivery(config: Readonly<Config>, deps: Deps): Promise<PolicyDelivery> {
  const trust = await loadBundleTrust(config.policy, config.mode);
  const archiveDir = join(config.dataDir, BUNDLE_ARCHIVE_DIR);
  const service = config.policy.service;
  const { refuseRollback, noteSwap, replaced } = rollbackGuard(config, trust, archiveDir);
  // The replaced bundle is noted before its swap is recorded, and the ledger's in-force marker says a
  // swap is under way until it is: a start that follows a crash in between exempts the bundle the
  // chain last recorded as in force, whichever of the two that is.
  const inForceAtStart = readInForce(config.audit.file)?.sha256;
  const check: RollbackCheck = (bytes, sha256) => refuseRollback(bytes, sha256, sha256 === inForceAtStart);
  const first = service ? await firstServedBundle(service, { trust, archiveDir, refuseRollback: check }, deps) : await firstFileBundle(config.policy.bundle!, trust, check);
  const active = first.engine;
  const shadowDelivery = await openShadowDelivery(config, active, trust, deps);
  const shadowed = shadowDelivery?.shadowed;
  const policy = shadowed ?? active;
  let delivered = first.delivered;
  let watcher: { reloadNow(): Promise<void>; close(): void } | undefined;

  // Swaps run one at a time: each takes the bundle in force when its turn comes as the one it replaces.
  let swapping: Promise<unknown> = Promise.resolve();
  const swapIn = (bytes: Buffer, from: BundleDelivery, where: Where): Promise<void> => {
    const turn = swapping.then(() => swapOnce(bytes, from, where));
    swapping = turn.catch(() => undefined);
    return turn;
  };
  // The files of the bundle in force: a new framing of them (compressed again, zero-padded) is not a
  // new bundle, and swapping it in would record and archive one copy per poll of a hostile service.
  let inForceContent = await bundleContentSha256(first.bytes);
  let inForcePolicy = first.policy;
  const swapOnce = async (bytes: Buffer, from: BundleDelivery, where: Where) => {
    const previous = active.revision;
    const sha256 = digest(bytes);
    const content = sha256 === previous.sha256 ? inForceContent : await bundleContentSha256(bytes);
    if (content !== inForceContent) {
      const decides = await refuseRollback(bytes, sha256);
      const note = () => noteSwap(inForcePolicy, decides);
      const next = await policy.activate(bytes, (loaded) => recordActivation(where, { archiveDir, bytes, loaded, previous, delivered: from, note }));
      inForceContent = content;
      inForcePolicy = decides;
      deps.metrics.policyReloads.inc({ result: 'loaded' });
      deps.logger.info('policy bundle activated', { revision: next.revision.revision, sha256: next.revision.sha256, keyId: next.signer?.keyId, from: describe(from) });
    }
    delivered = from;
    if (from.kind === 'service') writeLastGood(archiveDir, { sha256: active.revision.sha256, revision: active.revision.revision, url: from.url, etag: from.etag });
  };
  const refused = (error: unknown, from: string) => countRefusal(deps, error, from);

  return {
    policy, active, shadowed,
    async start(where) {
      // A ledger that cannot take the entry now (refusing service until restored) still starts; the
      // meta is left as it was, so the next start records the swap.
      // A bundle swapped out while the sidecar was stopped is replaced too; its policy is known from the archive.
      const note = async (stopped: PolicyRevision) => {
        const before = readArchivedBundle(archiveDir, stopped.sha256);
        return noteSwap(before && replaced ? await bundlePolicySha256(before) : undefined, inForcePolicy);
      };
      await recordInForce(where, { archiveDir, bytes: first.bytes, loaded: { revision: active.revision, signer: active.signer }, delivered }, note).catch((err: unknown) =>
        deps.logger.error('the policy bundle in force could not be recorded as activated', { sha256: active.revision.sha256, error: String(err) }),
      );
      // The bundle in force is not a replaced one, however it came to be in force (a rollback let through included).
      noteSwap(undefined, inForcePolicy);
      if (delivered.kind === 'service') writeLastGood(archiveDir, { sha256: active.revision.sha256, revision: active.revision.revision, url: delivered.url, etag: delivered.etag });
      watcher = service
        ? asWatcher(pollBundleService({
            service,
            etag: () => (delivered.kind === 'service' && delivered.url === displayUrl(service.url) ? (delivered.etag ?? undefined) : undefined),
            onBundle: (b) => swapIn(b.bytes, { kind: 'service', url: b.url, etag: b.etag }, where),
            onFailure: (error) => refused(error, displayUrl(service.url)),
          }))
        : watchPolicyBundle({
            bundlePath: config.policy.bundle!,
            intervalMs: config.policy.watchIntervalMs,
            onBundle: (bytes) => swapIn(bytes, { kind: 'file', path: config.policy.bundle! }, where),
            onFailure: (error) => refused(error, config.policy.bundle!),
          });
      shadowDelivery?.start();
    },
    reloadNow: async () => {
      await Promise.all([watcher?.reloadNow(), shadowDelivery?.pollNow()]);
    },
    close: () => {
      watcher?.close();
      shadowDelivery?.close();
    },
  };
}

function asWatcher(poller: { pollNow(): Promise<void>; close(): void }) {
  return { reloadNow: poller.pollNow, close: poller.close };
}

/**
 * Rollbacks refused (signed bundles only: an unsigned one is whatever its writer wants, older or
 * not), and swaps noted (`noteSwap(from, to)`, policy digests; a no-op for unsigned bundles).
 */
function rollbackGuard(config: Readonly<Config>, trust: BundleTrust | undefined, archiveDir: string) {
  const replaced = trust ? openReplacedBundles(archiveDir) : undefined;
  const refuseRollback: RollbackCheck = async (bytes, sha256, exempt = false) => {
    if (!replaced) return '';
    const policyDigest = await bundlePolicySha256(bytes);
    if (!config.policy.allowRollback && !exempt) replaced.refuseRollback(policyDigest, sha256);
    return policyDigest;
  };
  const noteSwap = (from: string | undefined, to: string) => replaced?.noteSwap(from, to) ?? (() => undefined);
  return { refuseRollback, noteSwap, replaced };
}

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function describe(d: BundleDelivery): string {
  return d.kind === 'file' ? d.path : `${d.url}${d.etag ? ` ETag ${d.etag}` : ''}`;
}

/** A bundle refused or not delivered: counted by code and logged with it; the running bundle stays. */
function countRefusal({ metrics, logger }: Deps, error: unknown, from: string): void {
  const { code, message } = asFlaggateError(error);
  if (code === 'POLICY_BUNDLE_UNAVAILABLE') {
    metrics.policyReloads.inc({ result: 'unavailable' });
    logger.warn('policy bundle service unavailable; the running policy stays', { code, from, error: message });
    return;
  }
  metrics.policyReloads.inc({ result: 'refused' });
  metrics.policyBundleRefusals.inc({ code });
  logger.error('policy bundle refused; the running policy stays', { code, from, error: message });
}

type Activation = { archiveDir: string; bytes: Buffer; loaded: LoadedBundle; delivered: BundleDelivery };
/** Notes the bundle replaced before the swap is recorded; returns how to take the note back. */
type NoteSwap = () => (() => void) | Promise<() => void>;

/**
 * Archives the bundle, notes the one it replaces (`note`) and records its `policy.activated` entry:
 * the swap happens only once all are done; a failed record takes the note back.
 */
async function recordActivation(where: Where, a: Activation & { previous: PolicyRevision | null; note?: NoteSwap }): Promise<void> {
  archiveBundle(a.archiveDir, a.bytes);
  where.archived?.();
  // Until the marker names the new bundle, it says a swap is under way: a start after a crash in
  // between reads from the chain whether its entry was recorded.
  const swapping = a.previous ?? undefined;
  if (swapping) where.ledger.setMeta(IN_FORCE, markerText(swapping, { ...a.loaded.revision, afterSeq: where.ledger.head().seq }));
  const undo = await a.note?.();
  try {
    await where.record.settled(policyActivatedEntry({ bundle: a.loaded.revision, previous: a.previous, keyId: a.loaded.signer?.keyId ?? null, delivered: a.delivered }));
    where.ledger.setMeta(IN_FORCE, markerText(a.loaded.revision));
  } catch (err) {
    try {
      undo?.();
      if (swapping) where.ledger.setMeta(IN_FORCE, markerText(swapping));
    } catch {
      // The record's failure is what the caller needs to see; a note left behind only refuses more.
    }
    throw err;
  }
}

/**
 * At start: the bundle in force is archived; it is recorded as activated when the chain last named
 * another (swapped while stopped), and that one noted as replaced (`note`). A new chain's first
 * bundle is named by its own entries' decisions.
 */
async function recordInForce(where: Where, a: Activation, note: (stopped: PolicyRevision) => Promise<() => void>): Promise<void> {
  archiveBundle(a.archiveDir, a.bytes);
  where.archived?.();
  const previous = inForceOf(where.ledger.getMeta(IN_FORCE), where.ledger.entriesAfter);
  if (previous === undefined || previous.sha256 === a.loaded.revision.sha256) where.ledger.setMeta(IN_FORCE, markerText(a.loaded.revision));
  else await recordActivation(where, { ...a, previous, note: () => note(previous) });
}

async function firstFileBundle(bundlePath: string, trust: BundleTrust | undefined, refuseRollback: RollbackCheck): Promise<First> {
  const bytes = await readBundleBytes(bundlePath);
  const engine = await createPolicyEngine({ bundlePath, bundleBytes: bytes, trust });
  const policy = await refuseRollback(bytes, engine.revision.sha256);
  return { engine, bytes, policy, delivered: { kind: 'file', path: bundlePath } };
}

/**
 * The service's bundle; when it gives none, or one that is refused (a rollback among them), the
 * persisted last-good one (verified again).
 */
async function firstServedBundle(service: BundleServiceOptions, o: { trust: BundleTrust | undefined; archiveDir: string; refuseRollback: RollbackCheck }, deps: Deps): Promise<First> {
  const { trust, archiveDir } = o;
  const url = displayUrl(service.url);
  const kept = readLastGood(archiveDir);
  let failure: unknown;
  try {
    const served = await fetchBundle(service, kept?.lastGood.url === url ? (kept.lastGood.etag ?? undefined) : undefined);
    if (served !== 'not-modified') {
      const engine = await createPolicyEngine({ bundleBytes: served.bytes, trust });
      const policy = await o.refuseRollback(served.bytes, engine.revision.sha256);
      return { engine, bytes: served.bytes, policy, delivered: { kind: 'service', url, etag: served.etag } };
    }
  } catch (err) {
    failure = err;
    countRefusal(deps, err, url);
  }
  if (!kept) throw failure ?? new FlaggateError('POLICY_BUNDLE_UNAVAILABLE', `policy bundle service ${url}: no bundle and none kept`);
  if (failure) deps.logger.warn('starting with the last good policy bundle', { sha256: kept.lastGood.sha256, revision: kept.lastGood.revision, from: kept.lastGood.url });
  const engine = await createPolicyEngine({ bundleBytes: kept.bytes, trust });
  // The last good bundle may since have been replaced by a bundle file: it is no way around the check.
  const policy = await o.refuseRollback(kept.bytes, engine.revision.sha256);
  return { engine, bytes: kept.bytes, policy, delivered: { kind: 'service', url: kept.lastGood.url, etag: kept.lastGood.etag } };
}
