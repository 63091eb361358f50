import { FlaggateError } from '../errors.js';
import type { UpstreamCheck } from './upstream-check.js';

export interface UpstreamGuard {
  /** Compares with every upstream again; a disagreement found now refuses service from then on. */
  refresh(): Promise<UpstreamCheck[]>;
  /** Takes a comparison made elsewhere (a cached one, for readiness) into account. */
  observe(checks: readonly UpstreamCheck[]): void;
  /** Why nothing may be served or appended, or undefined while the ledger agrees with its upstream copies. */
  refusal(): FlaggateError | undefined;
}

/**
 * Keeps a sidecar whose ledger is behind or off its upstream copy from serving. Appending to a cut
 * or forked chain would fork it further (and the JSON Lines sink would skip the new entries as
 * already held), so the refusal sticks until an operator restores the ledger and restarts.
 */
export function createUpstreamGuard(compare: () => Promise<UpstreamCheck[]>, onRefuse?: (error: FlaggateError) => void): UpstreamGuard {
  let refused: FlaggateError | undefined;
  const observe = (checks: readonly UpstreamCheck[]): void => {
      const apart = checks.find((c) => !c.ok);
      if (apart && !refused) {
        refused =
          apart.kind === 'cut'
            ? new FlaggateError('AUDIT_UPSTREAM_AHEAD', `upstream "${apart.sink}" is ahead of the local ledger: ${apart.message}`, {
                details: { sink: apart.sink, local: apart.local, upstream: apart.upstream, checkpoint: apart.checkpoint?.seq ?? null },
              })
            : new FlaggateError('AUDIT_CHAIN_BROKEN', `the local ledger differs from upstream "${apart.sink}": ${apart.message}`, {
                details: { sink: apart.sink, local: apart.local, upstream: apart.upstream },
              });
        onRefuse?.(refused);
      }
  };
  return {
    async refresh() {
      const checks = await compare();
      observe(checks);
      return checks;
    },
    observe,
    refusal: () => refused,
  };
}
