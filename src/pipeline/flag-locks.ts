/**
 * One change at a time per flag, from reading its state to queuing its outcome (committed ahead of
 * any entry appended later, unless its own commit fails): concurrent requests for one flag through
 * one sidecar are decided on the state the previous one left, so no update is lost and every
 * previous_state is true. (Across replicas, and against edits made around flaggate, only a
 * platform's compare-and-set holds: the flagd forwarder's. The admin APIs flaggate fronts offer it
 * none, so an edit made on the platform between the state read and the forward is not seen; the
 * drift watcher reports it afterwards.)
 *
 * A lock is taken exclusive, or shared with other shared holders: a change to an object many flags
 * use (an Unleash segment or context field, whose reach is read from the strategies using it) holds
 * its platform's common key exclusive, and every change by flag name holds it shared, so no flag
 * joins or leaves that reach between the reach's read and the change's outcome. Waiters are served
 * in arrival order, so a stream of shared holders cannot starve an exclusive one.
 */
export interface FlagLocks {
  run<T>(key: string, work: () => Promise<T>, mode?: 'exclusive' | 'shared'): Promise<T>;
}

interface KeyState {
  exclusive: boolean;
  shared: number;
  queue: Array<{ shared: boolean; grant: () => void }>;
}

export function createFlagLocks(): FlagLocks {
  const states = new Map<string, KeyState>();
  const free = (s: KeyState, shared: boolean) => !s.exclusive && (shared || s.shared === 0);
  const take = (s: KeyState, shared: boolean) => void (shared ? (s.shared += 1) : (s.exclusive = true));
  const acquire = (key: string, shared: boolean): Promise<void> => {
    let s = states.get(key);
    if (!s) states.set(key, (s = { exclusive: false, shared: 0, queue: [] }));
    if (s.queue.length === 0 && free(s, shared)) {
      take(s, shared);
      return Promise.resolve();
    }
    const state = s;
    return new Promise((grant) => state.queue.push({ shared, grant }));
  };
  const release = (key: string, shared: boolean): void => {
    const s = states.get(key)!;
    if (shared) s.shared -= 1;
    else s.exclusive = false;
    while (s.queue.length > 0 && free(s, s.queue[0]!.shared)) {
      const next = s.queue.shift()!;
      take(s, next.shared);
      next.grant();
    }
    if (!s.exclusive && s.shared === 0 && s.queue.length === 0) states.delete(key);
  };
  return {
    async run(key, work, mode = 'exclusive') {
      const shared = mode === 'shared';
      await acquire(key, shared);
      try {
        return await work();
      } finally {
        release(key, shared);
      }
    },
  };
}
