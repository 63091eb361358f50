/**
 * One change at a time per flag, from reading its state to queuing its outcome (committed ahead of
 * any entry appended later, unless its own commit fails): concurrent requests for one flag through
 * one sidecar are decided on the state the previous one left, so no update is lost and every
 * previous_state is true. (Across replicas, and against edits made around flaggate, the platform's
 * compare-and-set is what holds.)
 */
export interface FlagLocks {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createFlagLocks(): FlagLocks {
  const tails = new Map<string, Promise<void>>();
  return {
    async run(key, work) {
      const before = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = before.then(() => mine);
      tails.set(key, tail);
      await before;
      try {
        return await work();
      } finally {
        release();
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
  };
}
