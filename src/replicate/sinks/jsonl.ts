import { closeSync, existsSync, fstat, fstatSync, fsyncSync, ftruncate, ftruncateSync, mkdirSync, openSync, readSync, statSync, write, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { AuditEntry } from '../../audit/index.js';
import { canonicalEntry, canonicalJson } from '../../audit/index.js';
import type { DeliveryHint, Sink } from '../sink.js';
import { checkpointPathOf, readJsonlHeads } from './jsonl-tail.js';
import { tightenFiles } from '../../private-path.js';

/**
 * The default upstream: an append-only JSON Lines file, one canonical entry per line, fsync'd before
 * acknowledging. Idempotent by seq, per chain: at a chain's first delivery it reads that chain's
 * last line to know what it holds (never another chain's: a stream kept when the chain id changed
 * ends with the old chain's records, and taking their seq for this chain's acknowledged entries it
 * never wrote). Once it holds part of a chain, it goes on only from the entry after its last one,
 * linked to it, so the stream never holds a hole; a stream changed under it while it runs (rotated
 * by rename, written back in place) is opened and read again first. It reports its head and newest
 * checkpoint, so a ledger cut below them is caught.
 */
export function createJsonlSink(options: { name: string; path: string; required: boolean }): Sink {
  mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
  // Entries carry previous and new states, reasons and actors: owner-only whatever the umask.
  let stream = openSyncedFile(options.path);
  const checkpointPath = checkpointPathOf(options.path);
  let checkpoints: SyncedFile | undefined = existsSync(checkpointPath) ? openSyncedFile(checkpointPath) : undefined;
  tightenFiles(options.path, checkpointPath);
  // What the files hold of each chain, for deliveries: read at the chain's first delivery (behind
  // other chains' lines it can take a read of the whole file), then kept by this sink's own appends.
  const known = new Map<string, ReturnType<typeof readJsonlHeads>>();
  const heads = (chainId: string) => {
    let held = known.get(chainId);
    if (!held) known.set(chainId, (held = readJsonlHeads(options.path, chainId)));
    return held;
  };
  const checkpointHeldOf = (chainId: string) => heads(chainId).checkpoint?.seq ?? 0;
  // Appends run on the thread pool: close waits for the ones in flight before closing their files.
  const inFlight = new Set<Promise<void>>();
  const appendTracked = (target: SyncedFile, bytes: Buffer, onLoop = false): Promise<void> => {
    const p = appendWhole(target, bytes, onLoop);
    inFlight.add(p);
    return p.finally(() => inFlight.delete(p));
  };

  return {
    name: options.name,
    required: options.required,
    local: true,
    // Read from the file each time, not from what this sink knows: a stream cut or swapped for an older copy shows.
    async head(chainId) {
      return readJsonlHeads(options.path, chainId).head;
    },
    async latestCheckpoint(chainId) {
      return readJsonlHeads(options.path, chainId).checkpoint;
    },
    async deliver(entries, hint?: DeliveryHint) {
      const chainId = oneChain(entries.map((e) => e.chain_id));
      if (chainId === undefined) return 0;
      // What the stream holds is known from this sink's own appends only while no one else touched it.
      if (changedUnder(stream, options.path)) {
        stream = reopened(stream, options.path);
        known.clear();
      }
      const head = heads(chainId).head;
      const held = head?.seq ?? 0;
      const fresh = entries.filter((e) => e.seq > held);
      if (fresh.length === 0) return held;
      if (head !== null && fresh[0]!.seq !== held + 1) {
        // The stream holds part of the chain but not up to this batch (swapped for an older copy):
        // what it holds is reported, so the replicator resends what it lost before anything after it.
        // A stream holding none of the chain (new, or rotated away by a shipper) starts where it is sent.
        return held;
      }
      if (head !== null && fresh[0]!.prev_hash !== head.hash) {
        throw new Error(`${options.path} holds seq ${held} of chain ${chainId} as another entry than the one seq ${held + 1} follows: it is not this ledger's copy`);
      }
      const text = fresh.map((e: AuditEntry) => canonicalEntry(e) + '\n').join('');
      await appendTracked(stream, Buffer.from(text, 'utf8'), hint?.alone === true);
      const last = fresh[fresh.length - 1]!;
      heads(chainId).head = { seq: last.seq, hash: last.hash };
      return last.seq;
    },
    async deliverCheckpoints(given) {
      // Checkpoints go to a sibling file, so the entry stream stays one record type for shippers.
      const chainId = oneChain(given.map((c) => c.chainId));
      if (chainId === undefined) return;
      // Rotated with the entry stream, or written back: opened and read again, as the stream is.
      if (checkpoints !== undefined && changedUnder(checkpoints, checkpointPath)) {
        checkpoints = reopened(checkpoints, checkpointPath);
        known.clear();
      }
      const held = checkpointHeldOf(chainId);
      const fresh = given.filter((c) => c.seq > held);
      if (fresh.length === 0) return;
      checkpoints ??= openSyncedFile(checkpointPath);
      await appendTracked(checkpoints, Buffer.from(fresh.map((c) => canonicalJson(c) + '\n').join(''), 'utf8'));
      heads(chainId).checkpoint = fresh[fresh.length - 1]!;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      closeSync(stream.fd);
      if (checkpoints !== undefined) closeSync(checkpoints.fd);
    },
  };
}

const fstatAsync = promisify(fstat);
const writeAsync = promisify(write);
const ftruncateAsync = promisify(ftruncate);

/** A file opened for synchronous appends, and its size when known (unknown after a failed append). */
interface SyncedFile {
  fd: number;
  size: number | undefined;
}

/**
 * O_APPEND | O_SYNC ('as'): each write returns once its data and the file's size are on disk, as a
 * write followed by fsync would, but in one trip to the thread pool instead of two (three with the
 * fstat a failure needs: the size is kept here instead).
 */
function openSyncedFile(path: string): SyncedFile {
  const fd = openSync(path, 'as', 0o600);
  try {
    const size = endOfLastLine(path);
    // A line torn by a crash mid-write goes: the next append must start a line of its own, or the
    // entry it carries would be glued onto the torn one, unreadable, and lost to every reader.
    if (size < fstatSync(fd).size) {
      ftruncateSync(fd, size);
      fsyncSync(fd);
    }
    return { fd, size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The length of the file up to and including its last newline (0 when it has none). */
function endOfLastLine(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = fstatSync(fd).size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      const read = readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, read).lastIndexOf(0x0a);
      if (at !== -1) return start + at + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/**
 * Appends `bytes` durably, or leaves the file as it was: a write cut short (disk full, a file-size
 * limit) is truncated away, so the stream never holds half a line for the next one to run into.
 * On libuv's thread pool, so the event loop serves other changes and the SQLite commit of the next
 * group meanwhile; `onLoop` when one change waits for it alone: the same O_SYNC write on the event
 * loop, without the thread pool's hand-off and wake-up (measured: 0.29 against 0.45 ms a delivery
 * at one client). The replicator serializes deliveries per sink, so two appends never interleave.
 */
async function appendWhole(file: SyncedFile, bytes: Buffer, onLoop: boolean): Promise<void> {
  const size = file.size ?? (onLoop ? fstatSync(file.fd) : await fstatAsync(file.fd)).size;
  file.size = undefined;
  try {
    let written = 0;
    while (written < bytes.length) {
      const left = bytes.length - written;
      written += onLoop ? writeSync(file.fd, bytes, written, left) : (await writeAsync(file.fd, bytes, written, left)).bytesWritten;
    }
    file.size = size + bytes.length;
  } catch (err) {
    try {
      if (onLoop) ftruncateSync(file.fd, size);
      else await ftruncateAsync(file.fd, size);
      file.size = size;
    } catch {
      // the next delivery's truncation, or the torn line's removal on open, covers it
    }
    throw err;
  }
}

/**
 * Whether the file at `path` is no longer the one `file` appends to as this sink left it: replaced
 * (a rotation by rename, a copy moved in), gone, or of another size (an older copy written back in
 * place, a copytruncate, a line appended by someone else). Then it is opened again and read again.
 */
function changedUnder(file: SyncedFile, path: string): boolean {
  let onDisk: Stats;
  try {
    onDisk = statSync(path);
  } catch {
    return true;
  }
  const open = fstatSync(file.fd);
  return onDisk.ino !== open.ino || onDisk.dev !== open.dev || file.size === undefined || onDisk.size !== file.size;
}

/** `path` opened anew, then `file` closed: an open that fails leaves `file` open and in use. */
function reopened(file: SyncedFile, path: string): SyncedFile {
  const next = openSyncedFile(path);
  closeSync(file.fd);
  return next;
}

/** The one chain a delivery is for (undefined for an empty one); records of several chains in one delivery are refused. */
function oneChain(chainIds: readonly string[]): string | undefined {
  const chains = new Set(chainIds);
  if (chains.size > 1) throw new Error(`one delivery holds records of ${chains.size} chains`);
  return chainIds[0];
}
