/**
 * A small load generator on node:http with keep-alive agents: sequential latency runs and
 * fixed-duration throughput runs with N concurrent clients.
 */
import { Agent, request } from 'node:http';

/** One HTTP request to send; `body` is a string or nothing. */
export interface Req {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Builds request number `i` of client `client`. */
export type MakeReq = (i: number, client: number) => Req;

/** Sends one request on `agent`, reads the whole answer, and resolves with its status and body. */
export function send(agent: Agent, r: Req): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
    const req = request(r.url, { method: r.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

/** A keep-alive agent for `clients` concurrent clients. */
export function keepAliveAgent(clients: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
}

/** Latency samples (ms) and the statuses seen. */
export interface LatencyResult {
  samples: number[];
  statuses: Map<number, number>;
}

function countStatus(statuses: Map<number, number>, status: number): void {
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

/** `warmup` unmeasured requests, then `n` measured ones, one at a time. */
export async function measureLatency(make: MakeReq, n: number, warmup: number): Promise<LatencyResult> {
  const agent = keepAliveAgent(1);
  try {
    for (let i = 0; i < warmup; i++) await send(agent, make(i, 0));
    const samples: number[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const r = make(warmup + i, 0);
      const t0 = performance.now();
      const { status } = await send(agent, r);
      samples.push(performance.now() - t0);
      countStatus(statuses, status);
    }
    return { samples, statuses };
  } finally {
    agent.destroy();
  }
}

/** Completed requests per second over a fixed duration, and the statuses seen. */
export interface ThroughputResult {
  clients: number;
  seconds: number;
  completed: number;
  perSecond: number;
  statuses: Map<number, number>;
}

/**
 * `clients` loops, each sending its next request as soon as the last answered, for `seconds`;
 * a request in flight at the deadline still completes and counts towards the elapsed time.
 */
export async function measureThroughput(make: MakeReq, clients: number, seconds: number): Promise<ThroughputResult> {
  const agent = keepAliveAgent(clients);
  try {
    // Open every connection before the clock starts.
    await Promise.all(Array.from({ length: clients }, (_, c) => send(agent, make(0, c))));
    const statuses = new Map<number, number>();
    let completed = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 1; performance.now() < deadline; i++) {
          const { status } = await send(agent, make(i, c));
          completed++;
          countStatus(statuses, status);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    return { clients, seconds: elapsed, completed, perSecond: completed / elapsed, statuses };
  } finally {
    agent.destroy();
  }
}

/** Nearest-rank percentile of `samples` (ms), `p` in 0..100. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
