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
