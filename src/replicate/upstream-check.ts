import type { StoredRow } from '../audit/entry.js';
import type { TrustedHead } from '../audit/verify.js';
import type { Sink } from './sink.js';

/** How the local chain compares with one upstream copy. */
export interface UpstreamCheck {
  sink: string;
  ok: boolean;
  /** `cut`: the local chain ends below the upstream head; `forked`: it differs at the upstream head. */
  kind?: 'cut' | 'forked' | 'unreachable';
  local: TrustedHead;
  upstream: TrustedHead | null;
  message: string;
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
        return { sink: sink.name, ok: false, kind: 'cut', local, upstream, message: `the local chain ends at seq ${local.seq}, below the upstream head at seq ${upstream.seq}` };
      }
      const row = deps.rowsAfter(upstream.seq - 1, 1)[0];
      if (!row || row.seq !== upstream.seq || row.hash !== upstream.hash) {
        return { sink: sink.name, ok: false, kind: 'forked', local, upstream, message: `the local entry at seq ${upstream.seq} differs from the upstream copy` };
      }
      return { sink: sink.name, ok: true, local, upstream, message: `upstream holds seq ${upstream.seq} of ${local.seq}` };
    }),
  );
}
