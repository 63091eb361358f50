import { FlaggateError } from '../errors.js';
import type { TokenStore } from './token-store.js';

/** Gets a token over a SHA-256 digest (hex); the embedded TSA or a TSA client behind one function. */
export type StampFn = (digestHex: string) => Promise<{ token: Buffer; genTime: string; tsa?: string }>;

export interface Coverage {
  /**
   * Resolves once a stored token covers entry `seq` (hash `hash`): a token over entry N's hash
   * vouches for every earlier entry through the chain. Calls made while a stamp is in flight share
   * the next one, taken over the newest hash asked for. Rejects with `TIMESTAMP_UNAVAILABLE`.
   */
  cover(seq: number, hash: string): Promise<{ tokenId: number; coversSeq: number }>;
}

interface Waiter {
  seq: number;
  hash: string;
  resolve(v: { tokenId: number; coversSeq: number }): void;
  reject(err: unknown): void;
}

/** Batches coverage requests: at most one stamp in flight, every waiter answered by the next. */
export function createCoverage(o: { stamp: StampFn; store: TokenStore; tsaName?: string }): Coverage {
  let queue: Waiter[] = [];
  let running = false;

  const round = async (batch: Waiter[]): Promise<void> => {
    const newest = batch.reduce((a, b) => (b.seq > a.seq ? b : a));
    try {
      let row = o.store.covering(newest.seq);
      if (!row) {
        const { token, genTime, tsa } = await o.stamp(newest.hash);
        row = o.store.add({ coversSeq: newest.seq, coversHash: newest.hash, genTime, tsa: tsa ?? o.tsaName ?? 'embedded', token });
      }
      const answer = { tokenId: row.id, coversSeq: row.coversSeq };
      for (const w of batch) w.resolve(answer);
    } catch (err) {
      const e = err instanceof FlaggateError ? err : new FlaggateError('TIMESTAMP_UNAVAILABLE', 'timestamping failed', { cause: err });
      for (const w of batch) w.reject(e);
    }
  };

  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        await round(batch);
      }
    } finally {
      running = false;
    }
  };

  return {
    cover(seq, hash) {
      const existing = o.store.covering(seq);
      if (existing) return Promise.resolve({ tokenId: existing.id, coversSeq: existing.coversSeq });
      return new Promise((resolve, reject) => {
        queue.push({ seq, hash, resolve, reject });
        void pump();
      });
    },
  };
}
