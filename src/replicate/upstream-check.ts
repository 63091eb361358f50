import type { JSONWebKeySet } from 'jose';
import { verifyCheckpoint, type Checkpoint } from '../audit/index.js';
import type { StoredRow } from '../audit/index.js';
import type { TrustedHead } from '../audit/index.js';
import type { Sink, UpstreamWriter } from './sink.js';

/** Anything that can say what it holds of a chain: a sink, or a read-only view of one (the CLI). */
export type UpstreamSource = Pick<Sink, 'name' | 'head' | 'latestCheckpoint' | 'writerOf'>;

/** How the local chain compares with one upstream copy. */
export interface UpstreamCheck {
  sink: string;
  ok: boolean;
  /**
   * `cut`: the local chain ends below the upstream head or checkpoint; `forked`: it differs at one of
   * them; `unreachable`: not read (a sidecar waits for it); `unchecked`: a copy an auditor named that
   * could not vouch for the chain (not read, or holding nothing of it), which fails the audit;
   * `gap`: a JSON Lines or PostgreSQL copy lacks entries between two it holds.
   */
  kind?: 'cut' | 'forked' | 'unreachable' | 'unchecked' | 'gap';
  /** The first seq a `gap` or a `forked` stream concerns, where it was read line by line. */
  at?: number;
  local: TrustedHead;
  upstream: TrustedHead | null;
  /** The newest checkpoint upstream holds, as read (verify checks its signature again with the chain). */
  checkpoint: Checkpoint | null;
  message: string;
  /** Who wrote the upstream head a diverged chain disagrees with, when the sink can tell. */
  writer?: UpstreamWriter;
  /** The other writer's chain, named where it can be: the chain its role is registered for, or the one its row claims. */
  otherChain?: string;
}

/**
 * Compares the local head with each source that can say what it holds for this chain: its newest
 * entry and its newest checkpoint (counted only when its signature verifies against `keys`, so a
 * foreign write cannot stop this sidecar). The upstream copy may lag (a backlog), never lead: a
 * local chain shorter than upstream was cut (restored from an old backup, or deleted), and one whose
 * entry at an upstream head has another hash was forked.
 */
export async function compareWithUpstream(deps: {
  sinks: readonly UpstreamSource[];
  chainId: string;
  localHead(): TrustedHead;
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  keys?: () => JSONWebKeySet;
}): Promise<UpstreamCheck[]> {
  const sources = deps.sinks.filter((s) => typeof s.head === 'function' || typeof s.latestCheckpoint === 'function');
  return Promise.all(
    sources.map(async (sink): Promise<UpstreamCheck> => {
      const local = deps.localHead();
      let upstream: TrustedHead | null;
      let checkpoint: Checkpoint | null;
      try {
        [upstream, checkpoint] = await Promise.all([sink.head?.(deps.chainId) ?? null, sink.latestCheckpoint?.(deps.chainId) ?? null]);
      } catch (err) {
        return { sink: sink.name, ok: true, kind: 'unreachable', local, upstream: null, checkpoint: null, message: `upstream not reachable: ${(err as Error).message}` };
      }
      const claims: Array<TrustedHead & { what: string }> = [];
      if (upstream) claims.push({ ...upstream, what: 'upstream head' });
      if (checkpoint && (await signedByUs(checkpoint, deps.chainId, deps.keys))) claims.push({ seq: checkpoint.seq, hash: checkpoint.hash, what: 'upstream checkpoint' });
      const base = { sink: sink.name, local, upstream, checkpoint };
      const ahead = claims.filter((c) => c.seq > local.seq).sort((a, b) => b.seq - a.seq)[0];
      if (ahead) {
        return attribute(sink, deps.chainId, { ...base, ok: false, kind: 'cut', message: `the local chain ends at seq ${local.seq}, below the ${ahead.what} at seq ${ahead.seq}` });
      }
      for (const claim of claims) {
        const row = deps.rowsAfter(claim.seq - 1, 1)[0];
        if (!row || row.seq !== claim.seq || row.hash !== claim.hash) {
          return attribute(sink, deps.chainId, { ...base, ok: false, kind: 'forked', message: `the local entry at seq ${claim.seq} differs from the ${claim.what}` });
        }
      }
      if (claims.length === 0) return { ...base, ok: true, message: 'upstream holds nothing for this chain yet' };
      return { ...base, ok: true, message: `upstream holds seq ${upstream?.seq ?? 0} of ${local.seq}${checkpoint ? `, checkpoint at seq ${checkpoint.seq}` : ''}` };
    }),
  );
}

/**
 * For an audit that names its upstream copies: a named copy that was not read, or that holds nothing
 * of a chain with entries here, vouches for nothing, and the verification fails rather than pass
 * unchecked (a sidecar's own readiness check keeps waiting for an upstream instead).
 */
export function namedUpstreamsMustAnswer(checks: readonly UpstreamCheck[], chainId: string): UpstreamCheck[] {
  return checks.map((c) => {
    if (c.kind === 'unreachable') return { ...c, ok: false, kind: 'unchecked' };
    if (c.ok && c.upstream === null && c.checkpoint === null && c.local.seq > 0) {
      return { ...c, ok: false, kind: 'unchecked', message: `the upstream holds nothing of chain ${chainId}, which has ${c.local.seq} entries here` };
    }
    return c;
  });
}

/**
 * What the upstream copies add to a verification: their heads as trusted heads (the chain must reach
 * and agree with each) and their newest checkpoints (verified with the chain's keys like its own).
 */
export function upstreamTrust(checks: readonly UpstreamCheck[]): { extraHeads: TrustedHead[]; checkpoints: Checkpoint[] } {
  return {
    extraHeads: checks.flatMap((c) => (c.upstream ? [{ ...c.upstream, source: `upstream ${c.sink}` }] : [])),
    checkpoints: checks.flatMap((c) => (c.checkpoint ? [c.checkpoint] : [])),
  };
}

async function signedByUs(cp: Checkpoint, chainId: string, keys: (() => JSONWebKeySet) | undefined): Promise<boolean> {
  if (!keys) return true;
  const checked = await verifyCheckpoint(cp, keys()).catch(() => ({ ok: false as const }));
  return checked.ok && checked.claims.chainId === chainId;
}

/**
 * Adds who wrote the upstream head to a divergence: another sidecar's role, or a row claiming
 * another chain, is the likeliest cause (a second writer), and the finding should say which.
 */
async function attribute(sink: UpstreamSource, chainId: string, check: UpstreamCheck): Promise<UpstreamCheck> {
  if (!sink.writerOf || !check.upstream) return check;
  const writer = await sink.writerOf(chainId, check.upstream.seq).catch(() => null);
  if (!writer) return check;
  const otherChain = writer.chains.find((c) => c !== chainId) ?? (writer.claimedChain && writer.claimedChain !== chainId ? writer.claimedChain : undefined);
  const by = [
    writer.role ? `written by role "${writer.role}"${writer.chains.length > 0 ? ` (registered for ${writer.chains.map((c) => `"${c}"`).join(', ')})` : ' (registered for no chain)'}` : undefined,
    writer.claimedChain && writer.claimedChain !== chainId ? `its row names chain "${writer.claimedChain}"` : undefined,
  ].filter(Boolean);
  return {
    ...check,
    writer,
    ...(otherChain ? { otherChain } : {}),
    message: `${check.message}${by.length > 0 ? `: the upstream head was ${by.join('; ')}` : ''}`,
  };
}
