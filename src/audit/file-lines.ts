import { closeSync, openSync, readSync } from 'node:fs';

const NEWLINE = 0x0a;
const CHUNK_BYTES = 1 << 20;

/**
 * The non-empty lines of a file, read forward a chunk at a time: a file is never held whole, so one
 * past V8's longest string (about 512 MiB: an export of a million entries) reads like a small one.
 * Lines split at the newline byte, which never occurs inside a multi-byte UTF-8 sequence, and each
 * line decodes on its own, exactly as the whole file split at newlines would.
 */
export function* fileLines(path: string, chunkBytes = CHUNK_BYTES): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    let chunk: Buffer = Buffer.alloc(chunkBytes);
    let held = 0; // bytes of an unfinished line at the start of `chunk`
    for (;;) {
      if (held === chunk.length) chunk = grown(chunk); // a line longer than the chunk
      const read = readSync(fd, chunk, held, chunk.length - held, null);
      const end = held + read;
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE, 0); nl >= 0 && nl < end; nl = chunk.indexOf(NEWLINE, start)) {
        if (nl > start) yield chunk.toString('utf8', start, nl);
        start = nl + 1;
      }
      if (read === 0) {
        if (end > start) yield chunk.toString('utf8', start, end);
        return;
      }
      held = end - start;
      chunk.copy(chunk, 0, start, end);
    }
  } finally {
    closeSync(fd);
  }
}

/** Each non-empty line parsed as JSON; one that is not throws, naming `name` and the line's place among them. */
export function* jsonLines(path: string, name: string): Generator<unknown> {
  let index = 0;
  for (const line of fileLines(path)) {
    index += 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${name} line ${index} is not JSON`);
    }
    yield value;
  }
}

function grown(chunk: Buffer): Buffer {
  const bigger = Buffer.alloc(chunk.length * 2);
  chunk.copy(bigger);
  return bigger;
}
