import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

const NEWLINE = 0x0a;
const CHUNK_BYTES = 1 << 20;

/**
 * Told the SHA-256 (hex) of a file's bytes by a reader that read them all, in order, on its way
 * through the file: a file checked line by line against its digest is read once, not twice. A
 * reader that stops before the end tells nothing.
 */
export type OnDigest = (sha256Hex: string) => void;

/** The file's bytes hashed as they are read, told to `onDigest` at the end; nothing without one. */
function readDigest(onDigest: OnDigest | undefined): { update(bytes: Buffer): void; end(): void } {
  const hash = onDigest && createHash('sha256');
  return { update: (bytes) => void hash?.update(bytes), end: () => hash && onDigest(hash.digest('hex')) };
}

/**
 * The non-empty lines of a file, read forward a chunk at a time: a file is never held whole, so one
 * past V8's longest string (about 512 MiB: an export of a million entries) reads like a small one.
 * Lines split at the newline byte, which never occurs inside a multi-byte UTF-8 sequence, and each
 * line decodes on its own, exactly as the whole file split at newlines would.
 */
export function* fileLines(path: string, chunkBytes = CHUNK_BYTES, onDigest?: OnDigest): Generator<string> {
  for (const line of lineSpans(path, chunkBytes, onDigest)) yield line.chunk.toString('utf8', line.start, line.end);
}

/**
 * `fileLines` with each line's bytes beside its text (a view of the read buffer, valid until the
 * next step), for a reader that hashes a line as it is stored.
 */
export function* fileLinesWithBytes(path: string, chunkBytes = CHUNK_BYTES, onDigest?: OnDigest): Generator<{ text: string; bytes: Buffer }> {
  for (const line of lineSpans(path, chunkBytes, onDigest)) yield { text: line.chunk.toString('utf8', line.start, line.end), bytes: line.chunk.subarray(line.start, line.end) };
}

/** How many lines `fileLines` yields, counted without decoding them. */
export function countLines(path: string, chunkBytes = CHUNK_BYTES): number {
  let count = 0;
  for (const _line of lineSpans(path, chunkBytes)) count += 1;
  return count;
}

/** Where each non-empty line's bytes lie; one object, updated in place, valid until the next step. */
function* lineSpans(path: string, chunkBytes: number, onDigest?: OnDigest): Generator<{ chunk: Buffer; start: number; end: number }> {
  const fd = openSync(path, 'r');
  const digest = readDigest(onDigest);
  try {
    const line: { chunk: Buffer; start: number; end: number } = { chunk: Buffer.alloc(chunkBytes), start: 0, end: 0 };
    let held = 0; // bytes of an unfinished line at the start of `chunk`
    for (;;) {
      if (held === line.chunk.length) line.chunk = grown(line.chunk); // a line longer than the chunk
      const { chunk } = line;
      const read = readSync(fd, chunk, held, chunk.length - held, null);
      const end = held + read;
      digest.update(chunk.subarray(held, end));
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE, 0); nl >= 0 && nl < end; nl = chunk.indexOf(NEWLINE, start)) {
        if (nl > start) yield Object.assign(line, { start, end: nl });
        start = nl + 1;
      }
      if (read === 0) {
        if (end > start) yield Object.assign(line, { start, end });
        return digest.end();
      }
      held = end - start;
      chunk.copy(chunk, 0, start, end);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A file compared, a chunk at a time, with the bytes it is expected to hold, in order: `next` says
 * whether the file goes on with `expected`, and moves past it when it does.
 */
export function fileMatcher(path: string, chunkBytes = CHUNK_BYTES, onDigest?: OnDigest): { next(expected: Buffer): boolean; atEnd(): boolean; close(): void } {
  const fd = openSync(path, 'r');
  const digest = readDigest(onDigest);
  let window: Buffer = Buffer.alloc(chunkBytes);
  let [pos, end, eof] = [0, 0, false];
  const fill = (need: number) => {
    if (end - pos >= need || eof) return;
    window.copy(window, 0, pos, end);
    [end, pos] = [end - pos, 0];
    if (need > window.length) window = grown(window, need);
    while (end < need && !eof) {
      const read = readSync(fd, window, end, window.length - end, null);
      digest.update(window.subarray(end, end + read));
      end += read;
      eof = read === 0;
      if (eof) digest.end();
    }
  };
  return {
    next(expected) {
      fill(expected.length);
      if (end - pos < expected.length || window.compare(expected, 0, expected.length, pos, pos + expected.length) !== 0) return false;
      pos += expected.length;
      return true;
    },
    atEnd() {
      fill(1);
      return pos === end;
    },
    close: () => closeSync(fd),
  };
}

/**
 * Each non-empty line parsed as JSON; one that is not throws, naming `name` and the line's place
 * among them, as does one `refuse` gives a reason for (it sees the value and the line's text).
 */
export function* jsonLines(path: string, name: string, refuse?: (value: unknown, line: string) => string | undefined, onDigest?: OnDigest): Generator<unknown> {
  let index = 0;
  for (const line of fileLines(path, CHUNK_BYTES, onDigest)) {
    index += 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${name} line ${index} is not JSON`);
    }
    const reason = refuse?.(value, line);
    if (reason !== undefined) throw new Error(`${name} line ${index} ${reason}`);
    yield value;
  }
}

function grown(chunk: Buffer, atLeast = 0): Buffer {
  const bigger = Buffer.alloc(Math.max(chunk.length * 2, atLeast));
  chunk.copy(bigger);
  return bigger;
}
