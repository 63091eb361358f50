/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`) by self time per source file, with native
 * functions (fsync, SQLite, crypto, garbage collection) named on their own. Time a thread spends
 * blocked in a synchronous native call counts against that call, not as idle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One row: where the time went, in ms and as a share of the non-idle time. */
export interface ProfileRow {
  where: string;
  ms: number;
  share: number;
}

function whereOf(frame: ProfileNode['callFrame'], root: string): string {
  const { functionName, url } = frame;
  if (url === '') return functionName === '' ? '(anonymous native)' : `${functionName} (native)`;
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length).split('/').slice(0, url.includes('node_modules/@') ? 2 : 1).join('/');
  if (url.startsWith('node:')) return url;
  const local = url.replace(/^file:\/\//, '');
  return local.startsWith(root) ? local.slice(root.length + 1) : local;
}

/** Self time per place, for the busiest profile (the main thread) in `dir`, top `limit` rows. */
export function summarizeProfiles(dir: string, root: string, limit = 12): { busyMs: number; rows: ProfileRow[] } {
  let best: { busyMs: number; byWhere: Map<string, number> } | undefined;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const byWhere = new Map<string, number>();
    let busy = 0;
    profile.samples.forEach((id, i) => {
      const frame = nodes.get(id)!.callFrame;
      if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
      const us = profile.timeDeltas[i] ?? 0;
      busy += us;
      const where = whereOf(frame, root);
      byWhere.set(where, (byWhere.get(where) ?? 0) + us);
    });
    if (!best || busy > best.busyMs * 1000) best = { busyMs: busy / 1000, byWhere };
  }
  if (!best) return { busyMs: 0, rows: [] };
  const { busyMs } = best;
  const rows = [...best.byWhere.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([where, us]) => ({ where, ms: us / 1000, share: us / 1000 / busyMs }));
  return { busyMs, rows };
}
