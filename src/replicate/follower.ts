import type { AuditEntry } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { delayed } from '../delayed.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics, ReplicationLag } from '../metrics.js';
import type { Sink } from './sink.js';
import { backoffDelay } from './sinks/backoff.js';

/** What the follower needs from the ledger: the entries after a seq, its head, and a durable cursor per sink. */
export interface ReplicationSource {
  entriesAfter(afterSeq: number, limit: number): AuditEntry[];
  head(): { seq: number };
  sinkCursor(sink: string): number;
  setSinkCursor(sink: string, seq: number): void;
}

export interface Replicator {
  /**
   * Resolves once every required sink holds every entry up to `seq`; throws REPLICATE_UNACKED, at
   * once when a required sink is more than `maxBacklog` entries behind.
   */
  through(seq: number): Promise<void>;
  /** Catches every sink up to the ledger head in the background; failures retry with backoff. Never throws. */
  nudge(): void;
  /**
   * `nudge` within `settleDelayMs`, unless a delivery carries the head first: entries nobody waits
   * for (outcomes, refusals) ride with the next change's delivery, one fsync for both.
   */
  nudgeSoon(): void;
  acked(): Record<string, number>;
  close(): Promise<void>;
}

export interface ReplicatorOptions {
  source: ReplicationSource;
  sinks: Sink[];
  metrics: Metrics;
  clock?: Clock;
  logger?: Logger;
  /** Entries per delivery while catching up. */
  batchSize?: number;
  /** A required sink further behind than this refuses changes at once instead of queueing work. */
  maxBacklog?: number;
  /** How long `nudgeSoon` waits for a delivery to carry the head before it delivers on its own. */
  settleDelayMs?: number;
  /** Background retry of a failing sink. */
  retry?: { baseMs: number; maxMs: number };
}

interface SinkState {
  sink: Sink;
  /** Highest seq the sink is known to hold; starts at the persisted cursor. */
  position: number;
  queue: Promise<number>;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  /** Changes waiting in `through` for this sink. */
  waiters: number;
}

/** What delivery needs from the replicator. */
interface FollowContext {
  source: ReplicatorOptions['source'];
  metrics: ReplicatorOptions['metrics'];
  clock: Clock;
  batchSize: number;
  logger: ReplicatorOptions['logger'];
  /** A delivery's hint (`DeliveryHint`), and whether other sinks deliver for the same change beside it. */
  alone(s: SinkState): { alone: boolean; beside: boolean };
}

async function deliverOnce(ctx: FollowContext, s: SinkState, batch: AuditEntry[]): Promise<number> {
  const hint = ctx.alone(s);
  let alone = hint.alone;
  if (alone && hint.beside) {
    // A local sink's blocking write waits one turn of the event loop, until the network sinks
    // delivering beside it (started in the same turn) have sent their requests: it then runs
    // during their round trips instead of before them. Asked again: another change may wait now.
    await new Promise((resolve) => setImmediate(resolve));
    alone = ctx.alone(s).alone;
  }
  const started = ctx.clock.monotonic();
  try {
    return await s.sink.deliver(batch, { alone });
  } finally {
    ctx.metrics.replicateDeliverySeconds.observe({ sink: s.sink.name }, (ctx.clock.monotonic() - started) / 1000);
  }
}

/** Delivers batches until the sink acknowledges `target`; a sink restored from a backup is resent from its head. */
async function deliverThrough(ctx: FollowContext, s: SinkState, target: number): Promise<number> {
  let rewound = false;
  while (s.position < target) {
    const batch = ctx.source.entriesAfter(s.position, ctx.batchSize);
    if (batch.length === 0) break;
    const reached = await deliverOnce(ctx, s, batch);
    // A sink cannot hold what it was never sent: an answer past the batch would count entries as
    // upstream that are not (a stream that took another chain's records for this one's).
    if (reached > batch.at(-1)!.seq) throw new Error(`sink ${s.sink.name} acknowledged seq ${reached}, past the last entry it was sent (${batch.at(-1)!.seq})`);
    if (reached >= batch[0]!.seq) {
      ctx.source.setSinkCursor(s.sink.name, reached);
      s.position = reached;
      rewound = false;
    } else if (reached < s.position && !rewound) {
      // The sink holds less than our cursor says (restored from a backup): resend from its head.
      ctx.logger?.warn('upstream sink is behind its cursor; resending', { sink: s.sink.name, cursor: s.position, held: reached });
      s.position = reached;
      rewound = true;
    } else {
      throw new Error(`sink ${s.sink.name} acknowledged nothing past seq ${s.position}`);
    }
  }
  return s.position;
}

function unacked(s: SinkState, seq: number, cause?: unknown): FlaggateError {
  return new FlaggateError('REPLICATE_UNACKED', `upstream sink "${s.sink.name}" has not acknowledged seq ${seq}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { sink: s.sink.name, seq, acked: s.position },
  });
}

/** Per sink: entries not acknowledged and the age of the oldest, read on scrape. */
function replicationLag(ctx: FollowContext, states: readonly SinkState[]): ReplicationLag[] {
  const head = ctx.source.head().seq;
  const nowMs = ctx.clock.now();
  return states.map((s) => {
    const oldest = s.position < head ? ctx.source.entriesAfter(s.position, 1)[0] : undefined;
    const seconds = oldest ? Math.max(0, (nowMs - Date.parse(oldest.timestamp_utc)) / 1000) : 0;
    return { sink: s.sink.name, entries: Math.max(0, head - s.position), seconds };
  });
}

/** The ledger's head, or nothing when it was closed under a replicator nobody closed. */
function headOrNothing(source: Pick<ReplicatorOptions['source'], 'head'>): number | undefined {
  try {
    return source.head().seq;
  } catch {
    return undefined;
  }
}

/**
 * The changes waiting in `through`, in all and per sink, for a delivery's `alone` hint: one
 * change's deliveries overlap when at most one of them blocks the event loop (a lone sink, or the
 * one local sink beside network sinks that send their request at once), and a sink nobody waits
 * for (a background catch-up) never blocks it. Which sinks the one change waits for is read from
 * the sinks' own counts when asked, never kept from an earlier wait.
 */
function createWaitCount(states: readonly SinkState[]) {
  let waiting = 0;
  return {
    alone(s: SinkState): { alone: boolean; beside: boolean } {
      if (waiting !== 1 || s.waiters !== 1) return { alone: false, beside: false };
      const others = states.filter((o) => o !== s && o.waiters > 0);
      if (others.length === 0) return { alone: true, beside: false };
      const alone = s.sink.local === true && others.every((o) => o.sink.local !== true && o.sink.sendsAtOnce === true);
      return { alone, beside: alone };
    },
    async during<T>(required: readonly SinkState[], work: () => Promise<T>): Promise<T> {
      waiting += 1;
      for (const s of required) s.waiters += 1;
      try {
        return await work();
      } finally {
        waiting -= 1;
        for (const s of required) s.waiters -= 1;
      }
    },
  };
}

/**
 * Follows the ledger into each sink, in order, from the sink's persisted cursor. Deliveries to one
 * sink are serialized, so concurrent changes share a delivery instead of racing; a sink that fails
 * is retried in the background, so a backlog drains once it is back, with or without new changes.
 */
export function createReplicator(options: ReplicatorOptions): Replicator {
  const { source, metrics } = options;
  const clock = options.clock ?? systemClock;
  const batchSize = options.batchSize ?? 500;
  const maxBacklog = options.maxBacklog ?? 10_000;
  const retry = options.retry ?? { baseMs: 500, maxMs: 30_000 };
  let closed = false;

  const states = options.sinks.map(
    (sink): SinkState => ({ sink, position: source.sinkCursor(sink.name), queue: Promise.resolve(0), attempt: 0, timer: undefined, waiters: 0 }),
  );

  const waits = createWaitCount(states);
  const ctx: FollowContext = { source, metrics, clock, batchSize, logger: options.logger, alone: waits.alone };
  const catchUp = (s: SinkState, target: number): Promise<number> => {
    const next = s.queue.catch(() => 0).then(() => deliverThrough(ctx, s, target));
    s.queue = next;
    next.then(
      () => {
        s.attempt = 0;
      },
      (err: unknown) => {
        metrics.replicateFailures.inc({ sink: s.sink.name });
        options.logger?.warn('upstream delivery failed', { sink: s.sink.name, error: String(err) });
        scheduleRetry(s);
      },
    );
    return next;
  };

  const scheduleRetry = (s: SinkState): void => {
    if (closed || s.timer) return;
    const delay = backoffDelay(s.attempt, retry);
    s.attempt += 1;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      const head = closed ? undefined : headOrNothing(source);
      if (head !== undefined) catchUp(s, head).catch(() => undefined);
    }, delay);
    s.timer.unref();
  };

  metrics.setReplicationLag(() => replicationLag(ctx, states));
  const soon = delayed(() => replicator.nudge(), options.settleDelayMs ?? 50);

  const replicator: Replicator = {
    async through(seq) {
      const required = states.filter((s) => s.sink.required && s.position < seq);
      const behind = required.find((s) => seq - s.position > maxBacklog);
      if (behind) {
        scheduleRetry(behind);
        throw new FlaggateError('REPLICATE_UNACKED', `upstream sink "${behind.sink.name}" is ${seq - behind.position} entries behind (limit ${maxBacklog})`, {
          details: { sink: behind.sink.name, seq, acked: behind.position, maxBacklog },
        });
      }
      const results = await waits.during(required, () => Promise.allSettled(required.map((s) => catchUp(s, seq))));
      for (const [i, r] of results.entries()) {
        const s = required[i]!;
        if (r.status === 'rejected') throw unacked(s, seq, r.reason);
        if (r.value < seq) throw unacked(s, seq);
      }
      replicator.nudge();
    },
    nudge() {
      if (closed) return;
      const head = source.head().seq;
      for (const s of states) {
        if (s.position < head && !s.timer) catchUp(s, head).catch(() => undefined);
      }
    },
    nudgeSoon: () => soon.schedule(),
    acked() {
      return Object.fromEntries(states.map((s) => [s.sink.name, s.position]));
    },
    async close() {
      closed = true;
      soon.cancel();
      for (const s of states) clearTimeout(s.timer);
      await Promise.allSettled(states.map((s) => s.queue));
      await Promise.all(states.map((s) => s.sink.close()));
    },
  };
  return replicator;
}
