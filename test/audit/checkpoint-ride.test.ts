import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckpointer, openKeyring, openLedger, signCheckpoint, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const clock = fixedClock(Date.UTC(2026, 0, 2, 3, 4, 5));

async function setup(cursorFlushMs = 10_000) {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId: 'ride', clock, cursorFlushMs });
  let closed = false;
  const close = () => {
    if (!closed) ledger.close();
    closed = true;
  };
  cleanups.push(() => {
    close();
    tmp.cleanup();
  });
  const keyring = await openKeyring(`${tmp.dir}/keys`, clock);
  /** The checkpoints on disk, as another connection reads them. */
  const onDisk = (): number[] => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare<[], { seq: number }>('SELECT seq FROM checkpoints ORDER BY seq').all().map((r) => r.seq);
    } finally {
      db.close();
    }
  };
  const signedHead = async (l: Ledger) => signCheckpoint({ chainId: 'ride', seq: l.head().seq, hash: l.head().hash, time: '2026-01-02T03:04:05.000Z' }, keyring);
  return { ledger, keyring, onDisk, signedHead, close };
}

// Checkpoints signed every so many entries ride along with the next commit instead of an fsync'd
// transaction of their own; one signed at a quiet moment is written by a timer, and on close.
describe('a checkpoint stored with the next commit', () => {
  it('is on disk, and its promise settled, only once the next commit is', async () => {
    const { ledger, onDisk, signedHead } = await setup();
    ledger.append(sampleEntry(1));
    let stored = false;
    const done = ledger.storeCheckpoint(await signedHead(ledger)).then(() => (stored = true));
    await new Promise((r) => setTimeout(r, 20));
    expect([stored, onDisk()]).toEqual([false, []]);
    ledger.append(sampleEntry(2));
    await done;
    expect(onDisk()).toEqual([1]);
    expect(ledger.checkpoints().map((c) => c.seq)).toEqual([1]);
  });

  it('is written within the flush interval when no commit comes, and on close', async () => {
    const quiet = await setup(20);
    quiet.ledger.append(sampleEntry(1));
    await quiet.ledger.storeCheckpoint(await quiet.signedHead(quiet.ledger));
    expect(quiet.onDisk()).toEqual([1]);

    const closing = await setup();
    closing.ledger.append(sampleEntry(1));
    const done = closing.ledger.storeCheckpoint(await closing.signedHead(closing.ledger));
    closing.close();
    await done;
    expect(closing.onDisk()).toEqual([1]);
  });

  it('is refused, not left waiting, once the ledger is closed', async () => {
    const { ledger, signedHead, close } = await setup(20);
    ledger.append(sampleEntry(1));
    const cp = await signedHead(ledger);
    close();
    await expect(ledger.storeCheckpoint(cp)).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
  });

  it('is signed once per so many appends, not once per append after the threshold', async () => {
    const { ledger, keyring, onDisk } = await setup();
    const checkpointer = createCheckpointer({ ledger, keyring, clock, logger: createLogger({ level: 'silent' }), everyEntries: 10, everySeconds: 3600 });
    for (let n = 1; n <= 35; n++) {
      checkpointer.afterAppend(ledger.append(sampleEntry(n)).seq);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Each was signed over the head of its moment and rode along with a later commit.
    expect(onDisk()).toEqual([10, 20, 30]);
    // An explicit checkpoint (the timer's, the one at stop) is written at once.
    expect((await checkpointer.checkpointNow())?.seq).toBe(35);
    expect(onDisk()).toEqual([10, 20, 30, 35]);
    await checkpointer.close();
  });
});
