import type { Clock } from '../clock.js';
import { isoUtc } from '../clock.js';
import type { Logger } from '../log.js';
import { signCheckpoint, type Checkpoint } from './checkpoint.js';
import type { Keyring } from './keyring.js';
import type { Ledger } from './ledger.js';

export interface Checkpointer {
  /** Call after each append: signs a checkpoint once `everyEntries` entries have gone by. */
  afterAppend(seq: number): void;
  /** Signs a checkpoint over the current head unless one already covers it. */
  checkpointNow(): Promise<Checkpoint | undefined>;
  close(): Promise<void>;
}

/**
 * Signs `{chainId, seq, hash, time}` over the ledger's head every `everyEntries` entries and every
 * `everySeconds` seconds (when the head moved), stores it in the ledger and hands it to `publish`
 * (the upstream sinks), so a copy of the signed head lives outside this machine.
 */
export function createCheckpointer(deps: {
  ledger: Ledger;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  everyEntries: number;
  everySeconds: number;
  publish?: (cp: Checkpoint) => Promise<void>;
}): Checkpointer {
  let lastSeq = deps.ledger.checkpoints().at(-1)?.seq ?? 0;
  let inFlight: Promise<Checkpoint | undefined> = Promise.resolve(undefined);

  // `store` writes the signed checkpoint: at once, or with the ledger's next commit (under load).
  const sign = (store: (cp: Checkpoint) => void | Promise<void>): Promise<Checkpoint | undefined> => {
    inFlight = inFlight.then(async () => {
      const head = deps.ledger.head();
      if (head.seq === 0 || head.seq <= lastSeq) return undefined;
      const cp = await signCheckpoint({ chainId: deps.ledger.chainId, seq: head.seq, hash: head.hash, time: isoUtc(deps.clock.now()) }, deps.keyring);
      await store(cp);
      lastSeq = cp.seq;
      await deps.publish?.(cp).catch((err: unknown) => deps.logger.warn('checkpoint not yet upstream', { seq: cp.seq, error: String(err) }));
      return cp;
    }).catch((err: unknown) => {
      deps.logger.error('checkpoint failed', { error: String(err) });
      return undefined;
    });
    return inFlight;
  };
  const checkpointNow = () => sign((cp) => deps.ledger.appendCheckpoint(cp));

  const timer = setInterval(() => void checkpointNow(), deps.everySeconds * 1000);
  timer.unref();

  // One checkpoint at a time from appends: the entries committed while it is signed and stored
  // count towards the next, instead of each queueing one more.
  let signingForAppends = false;
  return {
    afterAppend(seq) {
      if (signingForAppends || seq - lastSeq < deps.everyEntries) return;
      signingForAppends = true;
      // While changes are being committed, it rides along with the next commit.
      void sign((cp) => deps.ledger.storeCheckpoint(cp)).finally(() => {
        signingForAppends = false;
      });
    },
    checkpointNow,
    async close() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
