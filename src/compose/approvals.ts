import { createHash } from 'node:crypto';
import { changeStoreKind, createApprovals, createApprovalTokenVerifier, openChangeStoreFor, type Approvals, type ChangeStore } from '../approvals/index.js';
import type { Recorder } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Resume, Stages } from '../pipeline/index.js';
import type { Platform } from '../platforms/index.js';

/** The approvals stage with its store, bound to this sidecar's chain and platform target. */
export function buildApprovals(
  config: Readonly<Config>,
  deps: { clock: Clock; logger: Logger; policy: Stages['policy']; platform: Platform; record: Recorder; resume: Resume; controlUrl(): string | undefined },
): { approvals: Approvals; store: ChangeStore } {
  const store = openChangeStoreFor(config);
  const approvals = createApprovals({
    ...deps,
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
      clock: deps.clock,
    }),
    evidence: (id) => store.evidence(id),
    sidecar: { chainId: config.audit.chainId, platform: deps.platform.name, targetSha256: createHash('sha256').update(config.platform.targetUrl ?? '', 'utf8').digest('hex') },
    peerChains: config.approvals.peerChains,
  });
  return { approvals, store };
}
