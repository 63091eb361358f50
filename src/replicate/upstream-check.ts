import type { StoredRow } from '../audit/entry.js';
import type { TrustedHead } from '../audit/verify.js';
import type { Sink, UpstreamWriter } from './sink.js';

/** How the local chain compares with one upstream copy. */
export interface UpstreamCheck {
  sink: string;
  ok: boolean;
  /** `cut`: the local chain ends below the upstream head; `forked`: it differs at the upstream head. */
  kind?: 'cut' | 'forked' | 'unreachable';
  local: TrustedHead;
  upstream: TrustedHead | null;
  message: string;
  /** Who wrote the upstream head a diverged chain disagrees with, when the sink can tell. */
  writer?: UpstreamWriter;
  /** The other writer's chain, named where it can be: the chain its role is registered for, or the one its row claims. */
  otherChain?: string;
}

type HeadSink = Sink & Required<Pick<Sink, 'head'>>;

/**
 * Compares the local head with each sink that can say what it holds for this chain. The upstream
 * copy may lag (a backlog), never lead: a local chain shorter than upstream was cut (restored from
 * an old backup, or deleted), and one whose entry at the upstream head has another hash was forked.
 */
export async function compareWithUpstream(deps: {
  sinks: readonly Sink[];
  chainId: string;
  localHead(): TrustedHead;
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
}): Promise<UpstreamCheck[]> {
  const withHead = deps.sinks.filter((s): s is HeadSink => typeof s.head === 'function');
  return Promise.all(
    withHead.map(async (sink): Promise<UpstreamCheck> => {
      const local = deps.localHead();
      let upstream: TrustedHead | null;
      try {
        upstream = await sink.head(deps.chainId);
      } catch (err) {
        return { sink: sink.name, ok: true, kind: 'unreachable', local, upstream: null, message: `upstream not reachable: ${(err as Error).message}` };
      }
      if (!upstream) return { sink: sink.name, ok: true, local, upstream, message: 'upstream holds nothing for this chain yet' };
      if (local.seq < upstream.seq) {
        return attribute(sink, deps.chainId, { sink: sink.name, ok: false, kind: 'cut', local, upstream, message: `the local chain ends at seq ${local.seq}, below the upstream head at seq ${upstream.seq}` });
      }
      const row = deps.rowsAfter(upstream.seq - 1, 1)[0];
      if (!row || row.seq !== upstream.seq || row.hash !== upstream.hash) {
        return attribute(sink, deps.chainId, { sink: sink.name, ok: false, kind: 'forked', local, upstream, message: `the local entry at seq ${upstream.seq} differs from the upstream copy` });
      }
      return { sink: sink.name, ok: true, local, upstream, message: `upstream holds seq ${upstream.seq} of ${local.seq}` };
    }),
  );
}

/**
 * Adds who wrote the upstream head to a divergence: another sidecar's role, or a row claiming
 * another chain, is the likeliest cause (a second writer), and the finding should say which.
 */
async function attribute(sink: HeadSink, chainId: string, check: UpstreamCheck): Promise<UpstreamCheck> {
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
