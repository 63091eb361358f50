import type { Config } from '../config/index.js';
import { asFlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  createPolicyEngine, displayUrl, fetchBundle, pollBundleService, withShadowPolicy,
  type BundleServiceOptions, type BundleTrust, type PolicyEngine, type ServedBundle,
} from '../policy/index.js';

type Deps = { metrics: Metrics; logger: Logger };
type Shadowed = ReturnType<typeof withShadowPolicy>;

/** The shadow beside the active engine, and how its candidate reaches it. */
export interface ShadowDelivery {
  shadowed: Shadowed;
  /** Starts polling the candidate's bundle service (nothing for a candidate file). */
  start(): void;
  /** Looks for a new candidate now (SIGHUP). */
  pollNow(): Promise<void>;
  close(): void;
}

/** `policy.shadow` names a bundle service rather than a file. */
export function isBundleUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * How the candidate is polled: the active bundle service's window and timeout when one is
 * configured, else OPA's defaults; its credentials only on the same origin, so a token for one
 * server is never sent to another.
 */
export function shadowServiceOptions(url: string, service: BundleServiceOptions | undefined): BundleServiceOptions {
  const sameOrigin = service !== undefined && new URL(service.url).origin === new URL(url).origin;
  return {
    url,
    credentials: sameOrigin ? service.credentials : undefined,
    minDelaySeconds: service?.minDelaySeconds ?? 60,
    maxDelaySeconds: service?.maxDelaySeconds ?? 120,
    timeoutSeconds: service?.timeoutSeconds ?? 30,
  };
}

/**
 * Opens the shadow policy when `policy.shadow` is set: a candidate file read as before, or a
 * candidate fetched from a bundle service and verified against the same pinned keys as the active
 * bundle. A candidate that is refused, or none at all, pauses shadow evaluation; it never fails
 * the start nor touches an active decision.
 */
export async function openShadowDelivery(config: Readonly<Config>, active: PolicyEngine, trust: BundleTrust | undefined, deps: Deps): Promise<ShadowDelivery | undefined> {
  const source = config.policy.shadow;
  if (!source) return undefined;
  const onDisagreement = (d: { kind: string }) => deps.metrics.policyShadowDisagreements.inc({ kind: d.kind });
  if (!isBundleUrl(source)) {
    const shadowed = withShadowPolicy(active, await createPolicyEngine({ bundlePath: source, trust }), { onDisagreement });
    // A candidate file is read again whenever the active bundle is swapped, as before.
    return { shadowed, start: () => undefined, pollNow: () => Promise.resolve(), close: () => undefined };
  }
  return openServedShadow(shadowServiceOptions(source, config.policy.service), active, trust, { ...deps, onDisagreement });
}

async function openServedShadow(
  service: BundleServiceOptions, active: PolicyEngine, trust: BundleTrust | undefined, deps: Deps & { onDisagreement(d: { kind: string }): void },
): Promise<ShadowDelivery> {
  const from = displayUrl(service.url);
  // The ETag of the last candidate seen, loaded or refused: a refused one is not fetched (nor counted) again until it changes.
  let etag: string | undefined;
  let poller: { pollNow(): Promise<void>; close(): void } | undefined;
  const load = (served: ServedBundle) => {
    etag = served.etag ?? undefined;
    return createPolicyEngine({ bundleBytes: served.bytes, trust });
  };
  let first: PolicyEngine | { code: string; since: string };
  try {
    const served = await fetchBundle(service, undefined);
    first = await load(served as ServedBundle); // no If-None-Match was sent: never 'not-modified'
    deps.logger.info('shadow policy bundle loaded', { revision: first.revision.revision, sha256: first.revision.sha256, from });
  } catch (err) {
    const code = noteFailure(deps, err, from);
    first = { code, since: new Date().toISOString() };
  }
  deps.metrics.policyShadowPaused.set('decide' in first ? 0 : 1);
  const shadowed = withShadowPolicy(active, first, { onDisagreement: deps.onDisagreement, refreshShadow: () => poller?.pollNow() ?? Promise.resolve() });

  const onBundle = async (served: ServedBundle) => {
    try {
      const engine = await load(served);
      shadowed.swapShadow(engine);
      deps.metrics.policyShadowPaused.set(0);
      deps.logger.info('shadow policy bundle loaded', { revision: engine.revision.revision, sha256: engine.revision.sha256, from });
    } catch (err) {
      shadowed.pauseShadow(noteFailure(deps, err, from));
      deps.metrics.policyShadowPaused.set(1);
    }
  };
  return {
    shadowed,
    start() {
      poller = pollBundleService({ service, etag: () => etag, onBundle, onFailure: (err) => void onBundleFailure(err) });
    },
    pollNow: () => poller?.pollNow() ?? Promise.resolve(),
    close: () => poller?.close(),
  };

  function onBundleFailure(err: unknown): void {
    const code = noteFailure(deps, err, from);
    // A server that gives nothing leaves the candidate as it was; one that serves a refused bundle pauses it.
    if (code !== 'POLICY_BUNDLE_UNAVAILABLE') {
      shadowed.pauseShadow(code);
      deps.metrics.policyShadowPaused.set(1);
    }
  }
}

/** Logs a candidate that did not arrive or was refused, counts a refusal by its code, and returns the code. */
function noteFailure({ metrics, logger }: Deps, error: unknown, from: string): string {
  const { code, message } = asFlaggateError(error);
  if (code === 'POLICY_BUNDLE_UNAVAILABLE') {
    logger.warn('shadow policy bundle service unavailable; the shadow candidate stays as it was', { code, from, error: message });
    return code;
  }
  metrics.policyShadowRefusals.inc({ code });
  logger.error('shadow policy bundle refused; shadow evaluation paused, the active policy decides alone', { code, from, error: message });
  return code;
}
