import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { z } from 'zod';
import { FlaggateError } from '../errors.js';
import { DECISION_ENTRYPOINT, parsePolicyBundle, readPolicyBundle } from './bundle.js';
import type { BundleSigner } from './bundle-signature.js';
import type { BundleTrust } from './bundle-trust.js';
import type { Decision, PolicyInput, PolicyRevision } from './decision.js';

/** Evaluates policy inputs on one loaded bundle at a time. */
export interface PolicyEngine {
  /** One well-formed decision, or a FlaggateError (POLICY_UNDEFINED, POLICY_RESULT_INVALID, POLICY_EVAL_FAILED). */
  decide(input: PolicyInput): Decision;
  /** The bundle that makes decisions now. */
  readonly revision: PolicyRevision;
  /** The pinned key that signed the running bundle; undefined when no key is configured. */
  readonly signer?: BundleSigner | undefined;
  /** Loads the bundle again from its path and swaps it in only if it loads and validates; else throws and keeps the old one. */
  reload(): Promise<void>;
  /**
   * Swaps in the bundle held in `bytes` (a file read once, a bundle served) only if it verifies, loads
   * and validates, and only once `beforeSwap` (recording the activation) has resolved; else throws and
   * the running bundle stays. Serialized with `reload`.
   */
  activate(bytes: Buffer, beforeSwap?: (next: LoadedBundle) => Promise<void>): Promise<LoadedBundle>;
}

/** A bundle that loaded: what names it in entries. */
export interface LoadedBundle {
  revision: PolicyRevision;
  signer: BundleSigner | undefined;
}

export interface PolicyEngineOptions {
  /** The bundle file (also what `reload` reads again); may be left out when `bundleBytes` are given. */
  bundlePath?: string;
  /** The bundle's bytes, when they are already in hand (the bundle service): loaded instead of reading `bundlePath` at start. */
  bundleBytes?: Buffer;
  /** Pinned signing keys (`loadBundleTrust`): when given, at start-up and on every reload only a bundle that verifies loads. */
  trust?: BundleTrust | undefined;
}

/** The decision exactly as the Rego entrypoint must return it; anything else fails closed. */
const regoDecisionSchema = z
  .strictObject({
    allow: z.boolean(),
    reasons: z.array(z.string()).min(1),
    required_approvals: z.number().int().nonnegative(),
    approver_roles: z.array(z.string()),
    hold_for_approvals: z.boolean(),
    alerts: z.array(z.string()),
    // Optional, so a policy written before break-glass existed still decides (and grants none).
    break_glass: z.boolean().default(false),
  })
  // A hold on an allowed change, or one that no approval could lift, would contradict itself: refused.
  .refine((d) => !d.hold_for_approvals || (!d.allow && d.required_approvals > 0), {
    message: 'hold_for_approvals needs allow false and required_approvals above 0',
    path: ['hold_for_approvals'],
  })
  .refine((d) => !(d.break_glass && d.hold_for_approvals), { message: 'break_glass and hold_for_approvals contradict each other', path: ['break_glass'] });

// WASM pages are 64 KiB: a bound on what one policy may allocate (data plus one evaluation's heap).
const MEMORY = { initial: 5, maximum: 4096 } as const;

// Evaluated when a bundle loads, so a bundle that cannot decide at all is refused before it serves.
const PROBE_INPUT: PolicyInput = {
  actor: { id: 'flaggate-probe', displayName: 'flaggate probe', authMethod: 'dev-token', roles: [] },
  change: { platform: 'probe', action: 'flag.read', flagKey: 'flaggate.probe' },
  approvals: [],
  context: { links: {}, timeUtc: '1970-01-01T00:00:00Z' },
};

interface Loaded {
  policy: LoadedPolicy;
  revision: PolicyRevision;
  signer: BundleSigner | undefined;
}

async function load(source: string | Buffer, trust: BundleTrust | undefined): Promise<Loaded> {
  // One read: the digest, the signature check and the loaded policy all come from the same bytes.
  const bundle = typeof source === 'string' ? await readPolicyBundle(source, { trust }) : await parsePolicyBundle(source, { trust });
  const revision = Object.freeze({ revision: bundle.revision, sha256: bundle.sha256 });
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(bundle.wasm, { ...MEMORY });
    policy.setData(bundle.data);
  } catch (err) {
    throw new FlaggateError('POLICY_BUNDLE_INVALID', 'policy bundle invalid: /policy.wasm does not load', {
      cause: err,
      details: { ...revision },
    });
  }
  const entrypoints: unknown = policy.entrypoints;
  if (typeof entrypoints !== 'object' || entrypoints === null || !Object.hasOwn(entrypoints, DECISION_ENTRYPOINT)) {
    throw new FlaggateError('POLICY_BUNDLE_INVALID', `policy bundle invalid: no entrypoint ${DECISION_ENTRYPOINT}`, {
      details: { ...revision },
    });
  }
  const loaded = { policy, revision, signer: bundle.signer };
  try {
    evaluate(loaded, PROBE_INPUT);
  } catch (err) {
    throw new FlaggateError('POLICY_BUNDLE_INVALID', 'policy bundle invalid: it gives no valid decision for a probe input', {
      cause: err,
      details: { ...revision },
    });
  }
  return loaded;
}

function evaluate({ policy, revision }: Pick<Loaded, 'policy' | 'revision'>, input: PolicyInput): Decision {
  let resultSet: unknown;
  try {
    resultSet = policy.evaluate(input, DECISION_ENTRYPOINT);
  } catch (err) {
    // opa-wasm throws strings (aborts, conflicts) as well as Errors; keep either as the cause.
    throw new FlaggateError('POLICY_EVAL_FAILED', 'policy evaluation failed', { cause: err, details: { ...revision } });
  }
  if (!Array.isArray(resultSet) || resultSet.length === 0) {
    throw new FlaggateError('POLICY_UNDEFINED', 'policy decision is undefined', { details: { ...revision } });
  }
  if (resultSet.length > 1) {
    throw new FlaggateError('POLICY_RESULT_INVALID', `policy returned ${resultSet.length} results, expected one`, {
      details: { ...revision },
    });
  }
  const first: unknown = resultSet[0];
  const raw = typeof first === 'object' && first !== null && 'result' in first ? first.result : undefined;
  if (raw === undefined) throw new FlaggateError('POLICY_UNDEFINED', 'policy decision is undefined', { details: { ...revision } });
  const parsed = regoDecisionSchema.safeParse(raw);
  if (!parsed.success) {
    throw new FlaggateError('POLICY_RESULT_INVALID', `policy decision is malformed: ${z.prettifyError(parsed.error)}`, {
      details: { ...revision },
    });
  }
  const d = parsed.data;
  return {
    allow: d.allow,
    reasons: d.reasons,
    requiredApprovals: d.required_approvals,
    approverRoles: d.approver_roles,
    holdForApprovals: d.hold_for_approvals,
    alerts: d.alerts,
    breakGlass: d.break_glass,
    policy: { ...revision },
  };
}

/**
 * Loads the OPA bundle (WASM target) at `bundlePath` and returns an engine that fails closed: no
 * result, several results, a result off the decision schema or an evaluation error each throw their
 * own code, never an allow. Throws POLICY_BUNDLE_INVALID when the bundle cannot be used.
 */
export async function createPolicyEngine(options: PolicyEngineOptions): Promise<PolicyEngine> {
  const { bundlePath, bundleBytes, trust } = options ?? {};
  if (bundleBytes === undefined && (typeof bundlePath !== 'string' || bundlePath === '')) {
    throw new TypeError('createPolicyEngine: bundlePath must be a non-empty string');
  }
  let current = await load(bundleBytes ?? bundlePath!, trust);
  let reloading: Promise<unknown> = Promise.resolve();

  return {
    decide: (input) => evaluate(current, input),
    get revision() {
      return current.revision;
    },
    get signer() {
      return current.signer;
    },
    reload() {
      // Serialized, so two reloads cannot finish out of order; a failed one leaves `current` untouched.
      const next = reloading.then(async () => {
        if (bundlePath === undefined) throw new TypeError('reload: this engine has no bundle file; bundles arrive through activate');
        current = await load(bundlePath, trust);
      });
      reloading = next.catch(() => undefined);
      return next;
    },
    activate(bytes, beforeSwap) {
      const next = reloading.then(async () => {
        const loaded = await load(bytes, trust);
        const facts = { revision: loaded.revision, signer: loaded.signer };
        await beforeSwap?.(facts);
        current = loaded;
        return facts;
      });
      reloading = next.catch(() => undefined);
      return next;
    },
  };
}
