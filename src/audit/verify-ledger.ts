import type { JSONWebKeySet } from 'jose';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { verifyChain, type Census, type ProveRange, type ReadRows, type TrustedHead, type VerifyReport } from './verify.js';

export interface LedgerVerifyReport extends VerifyReport {
  checkpoints: { checked: number; latest: { seq: number; hash: string; kid: string; time: string } | null };
}

/**
 * The whole check an auditor runs: every checkpoint's signature against the published keys, then
 * the chain recomputed from raw rows and held against every signed head (a tail cut below the
 * latest checkpoint is `truncated`). Extra trusted heads (an upstream copy's head) may be added.
 */
export async function verifyLedger(input: {
  read: ReadRows;
  checkpoints: Array<Pick<Checkpoint, 'jws'> & Partial<Checkpoint>>;
  keys: JSONWebKeySet;
  chainId?: string;
  extraHeads?: TrustedHead[];
  from?: number;
  to?: number;
  anchor?: TrustedHead;
  /** Proves a leading part of the chain faster (a SQLite file's ranges in worker threads). */
  prove?: ProveRange;
  /** Counts the store's rows, so a row the walk cannot read is found (`VerifyOptions.census`). */
  census?: Census;
}): Promise<LedgerVerifyReport> {
  const heads: TrustedHead[] = [...(input.extraHeads ?? [])];
  let latest: LedgerVerifyReport['checkpoints']['latest'] = null;
  for (const cp of input.checkpoints) {
    const checked = await verifyCheckpoint(cp, input.keys);
    if (!checked.ok) {
      return failed(input.chainId ?? null, cp.seq ?? 0, checked.problem, checked.message, input.checkpoints.length);
    }
    if (input.chainId && checked.claims.chainId !== input.chainId) {
      return failed(input.chainId, checked.claims.seq, 'bad_signature', `a checkpoint of chain "${checked.claims.chainId}" was presented`, input.checkpoints.length);
    }
    heads.push({ seq: checked.claims.seq, hash: checked.claims.hash, source: `checkpoint ${checked.kid}` });
    if (!latest || checked.claims.seq > latest.seq) latest = { seq: checked.claims.seq, hash: checked.claims.hash, kid: checked.kid, time: checked.claims.time };
  }
  const report = await verifyChain(input.read, {
    ...(input.chainId ? { chainId: input.chainId } : {}),
    trusted: heads,
    ...(input.from !== undefined ? { from: input.from } : {}),
    ...(input.to !== undefined ? { to: input.to } : {}),
    ...(input.anchor ? { anchor: input.anchor } : {}),
    ...(input.prove ? { prove: input.prove } : {}),
    ...(input.census ? { census: input.census } : {}),
  });
  return { ...report, checkpoints: { checked: input.checkpoints.length, latest } };
}

function failed(chainId: string | null, seq: number, kind: 'bad_signature' | 'unknown_key', message: string, checked: number): LedgerVerifyReport {
  return {
    ok: false, chainId, entries: 0, from: 1, anchored: false, head: { seq: 0, hash: '' }, trustedHeads: 0,
    failure: { code: 'AUDIT_CHAIN_BROKEN', seq, kind, message },
    checkpoints: { checked, latest: null },
  };
}
