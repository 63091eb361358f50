import type { StoredRowBytes } from './prove-link.js';

/**
 * Chain rows from PostgreSQL's binary COPY format (`COPY (SELECT seq, chain_id, prev_hash, hash,
 * body ...) TO STDOUT (FORMAT binary)`), decoded as the stream's chunks arrive: the rows come as
 * length-prefixed fields with no per-row protocol message, so a row costs a few reads and its short
 * text columns' UTF-8 decoding (about half what `pg`'s row parser costs); the body stays bytes.
 * Layout, from PostgreSQL's COPY reference: an 11-byte signature, a 32-bit flags field, a 32-bit
 * header extension length and the extension; then per row a 16-bit field count and per field a
 * 32-bit length (-1 for NULL) and the bytes; then a 16-bit -1.
 *
 * A stream that breaks the layout throws. A row that cannot be a chain row (a NULL, a seq that is
 * not a safe integer) is still handed on, with a value the prover refuses, so it stops there.
 */
export async function readCopyRows(chunks: AsyncIterable<Buffer>, onRow: (row: StoredRowBytes) => boolean): Promise<'ended' | 'stopped'> {
  const decoder = createDecoder();
  for await (const chunk of chunks) {
    const state = decoder.push(chunk, onRow);
    if (state !== 'more') return state;
  }
  throw new Error('the COPY stream ended before its trailer');
}

/**
 * `COPY (...) TO STDOUT (FORMAT binary)` as a query for a `pg` client (`client.query(copy.query)`)
 * whose rows are decoded straight off the connection's socket chunks: the CopyData messages are
 * found in each chunk and their bytes handed to the same decoder as `readCopyRows`, in place. What
 * this saves over `pg-copy-streams` and an async iterator (measured, a worker's 50,000 rows): the
 * per-message buffer queue, a copy of each chunk and a promise per chunk, about 2-3 µs a row, and
 * the compiling of that stream code in each fresh worker (each worker compiles its hot code anew;
 * stream code was about 40% of that): `verify --postgres` of 100,000 entries went from 1.41 s to 1.26 s,
 * 1.52 to 1.36 times the raw chained SHA-256 in the same run. `done` settles once the server is ready for the next
 * query: 'ended' after the trailer, or 'stopped' (at once) when `onRow` said to stop; a server's
 * error rejects it, and so does a stream that breaks the layout or ends before its trailer.
 */
export function copyRowsQuery(text: string, onRow: (row: StoredRowBytes) => boolean): { query: CopyRowsQuery; done: Promise<'ended' | 'stopped'> } {
  let settle!: { resolve: (end: 'ended' | 'stopped') => void; reject: (err: unknown) => void };
  const done = new Promise<'ended' | 'stopped'>((resolve, reject) => (settle = { resolve, reject }));
  return { query: new CopyRowsQuery(text, onRow, settle), done };
}

/** What `CopyRowsQuery` needs of `pg`'s connection: its socket and a simple query. */
interface CopyConnection {
  stream: NodeJS.ReadableStream & { listeners(event: 'data'): Array<(chunk: Buffer) => void> };
  query(text: string): void;
}

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
/** Messages the server may send among the CopyData ones: CopyOutResponse, NoticeResponse, ParameterStatus, NotificationResponse. */
const PASSED_OVER = new Set([0x48, 0x4e, 0x53, 0x41]);

/**
 * The submittable `copyRowsQuery` makes. Like `pg-copy-streams`, it takes the socket's data from
 * `pg`'s parser from the moment the query is sent until CopyDone, or an ErrorResponse (which it
 * hands back, unread, for `pg` to report), and gives `pg` back whatever follows.
 */
class CopyRowsQuery {
  /** Set by `pg` when the client has a query timeout; called once the query is over. */
  callback: ((err: Error | null) => void) | undefined;
  private readonly decoder = createDecoder();
  private connection: CopyConnection | undefined;
  private pgOnData: ((chunk: Buffer) => void) | undefined;
  /** A message header split across chunks. */
  private head: Buffer | undefined;
  private code = 0;
  /** Bytes of the current message still to come. */
  private remaining = 0;
  private end: 'more' | 'ended' | 'stopped' = 'more';
  private failure: unknown;
  private settled = false;
  private readonly onData = (chunk: Buffer) => this.take(chunk);

  constructor(
    readonly text: string,
    private readonly onRow: (row: StoredRowBytes) => boolean,
    private readonly settle: { resolve: (end: 'ended' | 'stopped') => void; reject: (err: unknown) => void },
  ) {}

  submit(connection: CopyConnection): void {
    const listeners = connection.stream.listeners('data');
    if (listeners.length !== 1) throw new Error('a COPY query needs the connection\'s only data listener');
    this.connection = connection;
    this.pgOnData = listeners[0]!;
    connection.stream.removeListener('data', this.pgOnData);
    connection.stream.on('data', this.onData);
    connection.query(this.text);
  }

  private take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        let headAt = at;
        let buf = chunk;
        if (this.head) {
          buf = Buffer.concat([this.head, chunk.subarray(at)]);
          headAt = 0;
        }
        if (buf.length - headAt < 5) return void (this.head = buf.subarray(headAt));
        this.head = undefined;
        const code = buf[headAt]!;
        const length = buf.readUInt32BE(headAt + 1) - 4;
        if (code !== COPY_DATA && code !== COPY_DONE && !PASSED_OVER.has(code)) return this.detach(buf.subarray(headAt));
        if (length < 0) return this.detach(buf.subarray(headAt));
        // Continue in `buf` from after the header (a joined header leaves the rest of the chunk in it).
        chunk = buf;
        at = headAt + 5;
        this.code = code;
        this.remaining = length;
        if (code === COPY_DONE) {
          chunk = chunk.subarray(at);
          at = 0;
          if (length === 0) return this.detach(chunk);
        }
      }
      const n = Math.min(this.remaining, chunk.length - at);
      if (this.code === COPY_DATA) this.decode(chunk.subarray(at, at + n));
      at += n;
      this.remaining -= n;
      if (this.remaining === 0 && this.code === COPY_DONE) return this.detach(chunk.subarray(at));
    }
  }

  /** Rows from a piece of the COPY data; after a stop or a failure the rest is passed over. */
  private decode(piece: Buffer): void {
    if (this.end === 'stopped' || this.failure !== undefined || piece.length === 0) return;
    try {
      if (this.end === 'ended') throw new Error('bytes follow the COPY trailer');
      this.end = this.decoder.push(piece, this.onRow);
      if (this.end === 'stopped') this.finish();
    } catch (err) {
      this.failure = err;
      this.finish();
    }
  }

  /** Gives the socket back to `pg`, with the bytes it has not read. */
  private detach(rest: Buffer): void {
    const { connection, pgOnData } = this;
    if (!connection || !pgOnData) return;
    this.connection = this.pgOnData = undefined;
    connection.stream.removeListener('data', this.onData);
    connection.stream.on('data', pgOnData);
    if (rest.length > 0) pgOnData(rest);
  }

  handleError(err: Error): void {
    this.failure ??= err;
    this.finish();
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    if (this.failure === undefined && this.end === 'more') this.failure = new Error('the COPY stream ended before its trailer');
    this.finish();
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    const failure = this.failure;
    this.callback?.(failure === undefined ? null : (failure as Error));
    if (failure !== undefined) this.settle.reject(failure);
    else this.settle.resolve(this.end === 'stopped' ? 'stopped' : 'ended');
  }
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 5;
/** Flags bit 16 says rows carry OIDs (not asked for); bits 17-31 are reserved: a reader must stop on them. */
const UNEXPECTED_FLAGS = 0xffff0000;

function createDecoder() {
  let pending: Buffer | undefined;
  let headerRead = false;
  return {
    /** Decodes what `chunk` completes; 'more' when the stream goes on. */
    push(chunk: Buffer, onRow: (row: StoredRowBytes) => boolean): 'more' | 'ended' | 'stopped' {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let at = 0;
      if (!headerRead) {
        const after = headerEnd(buf);
        if (after < 0) return (pending = buf), 'more';
        at = after;
        headerRead = true;
      }
      for (;;) {
        if (buf.length - at < 2) break;
        const fields = buf.readInt16BE(at);
        if (fields === -1) {
          if (at + 2 !== buf.length) throw new Error('bytes follow the COPY trailer');
          return 'ended';
        }
        if (fields !== FIELDS) throw new Error(`a COPY row of ${fields} fields, not ${FIELDS}`);
        const end = rowEnd(buf, at + 2);
        if (end < 0) break;
        if (!onRow(decodeRow(buf, at + 2))) return 'stopped';
        at = end;
      }
      if (at < buf.length) pending = buf.subarray(at);
      return 'more';
    },
  };
}

/** Where the rows start, or -1 when the header is not all here yet. */
function headerEnd(buf: Buffer): number {
  const fixed = SIGNATURE.length + 8;
  if (buf.length < fixed) return -1;
  if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
  if ((buf.readUInt32BE(SIGNATURE.length) & UNEXPECTED_FLAGS) !== 0) throw new Error('a binary COPY stream with flags this reader does not know');
  const extension = buf.readUInt32BE(SIGNATURE.length + 4);
  if (extension > 1 << 20) throw new Error('a binary COPY header extension too long');
  return buf.length < fixed + extension ? -1 : fixed + extension;
}

/** The end of the row whose fields start at `at`, or -1 when the row is not all here yet. */
function rowEnd(buf: Buffer, at: number): number {
  for (let i = 0; i < FIELDS; i++) {
    if (buf.length - at < 4) return -1;
    const length = buf.readInt32BE(at);
    if (length < -1) throw new Error(`a COPY field of length ${length}`);
    at += 4 + Math.max(0, length);
    if (at > buf.length) return -1;
  }
  return at;
}

/**
 * The row whose (complete) fields start at `at`; a NULL is null, which the prover refuses. The body
 * is its bytes (a view of `buf`, valid while the row is handled), scanned and hashed as stored.
 */
function decodeRow(buf: Buffer, at: number): StoredRowBytes {
  const seqLength = buf.readInt32BE(at);
  const seq = seqLength === 8 ? safeInt64(buf, at + 4) : NaN;
  at += 4 + Math.max(0, seqLength);
  const texts: Array<string | null> = [];
  for (let i = 1; i < FIELDS - 1; i++) {
    const length = buf.readInt32BE(at);
    texts.push(length < 0 ? null : buf.toString('utf8', at + 4, at + 4 + length));
    at += 4 + Math.max(0, length);
  }
  const bodyLength = buf.readInt32BE(at);
  const bodyUtf8 = bodyLength < 0 ? null : buf.subarray(at + 4, at + 4 + bodyLength);
  const [chainId, prevHash, hash] = texts as [string, string, string];
  return { seq, chain_id: chainId, prev_hash: prevHash, hash, bodyUtf8 };
}

/** A big-endian int8 as a number, or NaN beyond the safe integers. */
function safeInt64(buf: Buffer, at: number): number {
  const high = buf.readInt32BE(at);
  const low = buf.readUInt32BE(at + 4);
  const value = high * 0x100000000 + low;
  return Number.isSafeInteger(value) ? value : NaN;
}
