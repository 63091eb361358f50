import { changeStoreKind, createApprovals, createApprovalTokenVerifier, openChangeStoreFor, type Approvals, type ChangeStore } from '../approvals/index.js';
import type { Recorder } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Resume, Stages } from '../pipeline/index.js';
import type { Platforms } from './platforms.js';

/** The approvals stage with its store; a held change is bound to this sidecar's chain and the platform target it was made on. */
export function buildApprovals(
  config: Readonly<Config>,
  deps: { clock: Clock; logger: Logger; policy: Stages['policy']; platforms: Platforms; record: Recorder; resume: Resume; refusals: Stages['refusals']; controlUrl(): string | undefined },
): { approvals: Approvals; store: ChangeStore } {
  const store = openChangeStoreFor(config);
  const { platforms, ...rest } = deps;
  const approvals = createApprovals({
    ...rest,
    platform: (id) => platforms.get(id)?.platform,
    store,
    expirySeconds: config.approvals.expirySeconds,
    heldStatus: config.approvals.heldStatus,
    verifyApprovalToken: createApprovalTokenVerifier({
      issuers: config.approvals.issuers,
      leewaySeconds: config.identity.leewaySeconds,
      tokenBytes: config.limits.tokenBytes,
      maxLifetimeSeconds: config.approvals.tokenMaxLifetimeSeconds,
      chainId: config.audit.chainId,
      sharedJtis: changeStoreKind(config) === 'postgres',
      peerChains: config.approvals.peerChains,
      platformClaimRequired: config.platforms.length > 1,
      clock: deps.clock,
    }),
    evidence: (id) => store.evidence(id),
    sidecar: (id) => {
      const targetSha256 = platforms.targetSha256(id);
      return targetSha256 === undefined ? undefined : { chainId: config.audit.chainId, platform: id, targetSha256 };
    },
    peerChains: config.approvals.peerChains,
  });
  return { approvals, store };
}
