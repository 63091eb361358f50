import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { copyRowsQuery, readCopyRows } from '../../src/audit/copy-binary-rows.js';
import type { StoredRow } from '../../src/audit/index.js';

/** PostgreSQL's binary COPY layout, written out here field by field (the reader's test oracle). */
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const int16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const field = (bytes: Buffer | null) => (bytes === null ? int32(-1) : Buffer.concat([int32(bytes.length), bytes]));
const int8 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(n); return b; };
type Fields = Array<Buffer | null>;
const rowFields = (r: StoredRow): Fields => [int8(BigInt(r.seq)), ...[r.chain_id, r.prev_hash, r.hash, r.body].map((t) => Buffer.from(t, 'utf8'))];
function copyStream(rows: Fields[], header: { flags?: number; extension?: Buffer } = {}): Buffer {
  const ext = header.extension ?? Buffer.alloc(0);
  const head = Buffer.concat([SIGNATURE, int32(header.flags ?? 0), int32(ext.length), ext]);
  return Buffer.concat([head, ...rows.map((f) => Buffer.concat([int16(f.length), ...f.map(field)])), int16(-1)]);
}
async function* chunked(bytes: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue;
    yield bytes.subarray(at, cut);
    at = cut;
  }
  yield bytes.subarray(at);
}
async function readAll(bytes: Buffer, cuts: number[] = [], stopAfter = Infinity): Promise<{ rows: StoredRow[]; end: string }> {
  const rows: StoredRow[] = [];
  const end = await readCopyRows(chunked(bytes, cuts), ({ bodyUtf8, ...row }) => {
    // The body stays the bytes that came (a view, valid only now): decoded here to compare with what was written.
    rows.push({ ...row, body: bodyUtf8 === null ? (null as unknown as string) : Buffer.from(bodyUtf8).toString('utf8') });
    return rows.length < stopAfter;
  });
  return { rows, end };
}

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const storedRow = fc.record({
  seq: fc.maxSafeInteger().filter((n) => n >= 1),
  chain_id: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  prev_hash: hex,
  hash: hex,
  body: fc.string({ unit: 'grapheme', maxLength: 300 }),
});

describe('readCopyRows', () => {
  it('reads the rows written, whatever the chunks they arrive in (multibyte text split anywhere)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storedRow, { maxLength: 8 }), fc.array(fc.nat(4000), { maxLength: 20 }), fc.uint8Array({ maxLength: 12 }), async (rows, cuts, extension) => {
        const bytes = copyStream(rows.map(rowFields), { extension: Buffer.from(extension) });
        expect(await readAll(bytes, cuts)).toEqual({ rows, end: 'ended' });
      }),
      { numRuns: 300 },
    );
    const byByte = copyStream([rowFields({ seq: 7, chain_id: 'c', prev_hash: '0'.repeat(64), hash: 'f'.repeat(64), body: '{"a":"é😀"}' })]);
    expect((await readAll(byByte, Array.from({ length: byByte.length }, (_, i) => i))).rows[0]!.body).toBe('{"a":"é😀"}');
  });

  it('reads rows of 3 to 40 KB split across chunks anywhere, a header extension split too', async () => {
    const long = fc.record({ seq: fc.integer({ min: 1, max: 1e6 }), chain_id: fc.constant('c'), prev_hash: hex, hash: hex, body: fc.integer({ min: 3_000, max: 40_000 }).map((n) => `{"a":"${'é'.repeat(n >> 1)}"}`) });
    await fc.assert(
      fc.asyncProperty(fc.array(long, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(200_000), { maxLength: 12 }), fc.uint8Array({ maxLength: 40 }), async (rows, cuts, extension) => {
        const bytes = copyStream(rows.map(rowFields), { extension: Buffer.from(extension) });
        expect(await readAll(bytes, cuts.map((c) => c % bytes.length))).toEqual({ rows, end: 'ended' });
      }),
      { numRuns: 100 },
    );
  });

  it('stops at the first row its reader refuses', async () => {
    const rows = [1, 2, 3].map((seq) => ({ seq, chain_id: 'c', prev_hash: 'a'.repeat(64), hash: 'b'.repeat(64), body: `{"n":${seq}}` }));
    expect(await readAll(copyStream(rows.map(rowFields)), [40, 300], 2)).toEqual({ rows: rows.slice(0, 2), end: 'stopped' });
  });

  it('hands on a row that cannot be a chain row with values the prover refuses', async () => {
    const good = rowFields({ seq: 1, chain_id: 'c', prev_hash: 'a'.repeat(64), hash: 'b'.repeat(64), body: '{}' });
    const { rows } = await readAll(copyStream([
      [good[0]!, good[1]!, good[2]!, good[3]!, null],
      [int8(2n ** 53n), ...good.slice(1)],
      [int8(-(2n ** 53n)), ...good.slice(1)],
      [int32(5), ...good.slice(1)],
      [null, ...good.slice(1)],
    ]));
    expect(rows[0]!.body).toBeNull();
    expect(rows.slice(1).map((r) => r.seq)).toEqual([NaN, NaN, NaN, NaN]);
    expect((await readAll(copyStream([[int8(2n ** 53n - 1n), ...good.slice(1)]]))).rows[0]!.seq).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('throws on a stream that breaks the layout', async () => {
    const good = rowFields({ seq: 1, chain_id: 'c', prev_hash: 'a'.repeat(64), hash: 'b'.repeat(64), body: '{}' });
    const whole = copyStream([good]);
    // The last field NULL (-1), then its length made -2: the byte before the trailer's two.
    const negative = copyStream([[good[0]!, good[1]!, good[2]!, good[3]!, null]]);
    negative[negative.length - 3] = 0xfe;
    const broken: Array<[string, Buffer, RegExp]> = [
      ['another signature', Buffer.concat([Buffer.from('PGCOPY\n\xfe\r\n\0', 'latin1'), whole.subarray(11)]), /not a binary COPY stream/],
      ['OIDs in the rows', copyStream([good], { flags: 1 << 16 }), /flags/],
      ['a reserved flag', copyStream([good], { flags: 1 << 31 }), /flags/],
      ['a row of four fields', copyStream([good.slice(0, 4)]), /4 fields/],
      ['a row of six fields', copyStream([[...good, null]]), /6 fields/],
      ['a negative length', negative, /length -2/],
      ['bytes after the trailer', Buffer.concat([whole, Buffer.from([0])]), /follow the COPY trailer/],
      ['no trailer', whole.subarray(0, whole.length - 2), /ended before its trailer/],
      ['a row cut short', whole.subarray(0, whole.length - 10), /ended before its trailer/],
      ['a header cut short', whole.subarray(0, 15), /ended before its trailer/],
      ['nothing', Buffer.alloc(0), /ended before its trailer/],
    ];
    for (const [what, bytes, message] of broken) {
      await expect(readAll(bytes, [13, 21]), what).rejects.toThrow(message);
      // Split anywhere else too, but right at the trailer's end: a stream is read no further once it ends.
      for (const cut of [1, 2, 19, 25, 60, bytes.length - 12, bytes.length - 3, bytes.length - 1]) {
        if (what === 'bytes after the trailer' && cut === bytes.length - 1) continue;
        await expect(readAll(bytes, [cut]), `${what}, cut at ${cut}`).rejects.toThrow(message);
      }
    }
  });
});

/** A protocol message: its code, its length (itself included) and its payload. */
const message = (code: string, payload: Buffer) => Buffer.concat([Buffer.from(code, 'latin1'), int32(payload.length + 4), payload]);

describe('copyRowsQuery', () => {
  it('reads the rows off the socket whatever its chunks (message headers split too), then hands pg the rest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storedRow, { maxLength: 6 }), fc.array(fc.nat(3000), { maxLength: 30 }), fc.array(fc.nat(2000), { maxLength: 4 }), async (rows, cuts, splits) => {
        const data = copyStream(rows.map(rowFields));
        // The COPY data in CopyData messages cut anywhere, a notice among them, as the server may send them.
        const pieces: Buffer[] = [];
        let at = 0;
        for (const cut of [...new Set(splits.map((c) => c % data.length))].sort((a, b) => a - b)) {
          if (cut <= at) continue;
          pieces.push(data.subarray(at, cut));
          at = cut;
        }
        pieces.push(data.subarray(at));
        const after = Buffer.concat([message('C', Buffer.from('COPY 1\0')), message('Z', Buffer.from('I'))]);
        const wire = Buffer.concat([message('H', Buffer.from([1, 0, 5])), message('N', Buffer.from('notice\0')), ...pieces.map((p) => message('d', p)), message('c', Buffer.alloc(0)), after]);
        const handed: Buffer[] = [];
        const stream = new EventEmitter();
        stream.on('data', (chunk: Buffer) => handed.push(chunk));
        const read: StoredRow[] = [];
        const copy = copyRowsQuery('COPY ...', ({ bodyUtf8, ...row }) => (read.push({ ...row, body: Buffer.from(bodyUtf8!).toString('utf8') }), true));
        const sent: string[] = [];
        copy.query.submit({ stream: stream as never, query: (text) => void sent.push(text) });
        expect(sent).toEqual(['COPY ...']);
        let from = 0;
        for (const cut of [...new Set(cuts.map((c) => c % wire.length))].sort((a, b) => a - b)) {
          if (cut <= from) continue;
          stream.emit('data', wire.subarray(from, cut));
          from = cut;
        }
        stream.emit('data', wire.subarray(from));
        // What pg reads after CopyDone: the command's completion and the ready message, whole.
        expect(Buffer.concat(handed)).toEqual(after);
        copy.query.handleCommandComplete();
        copy.query.handleReadyForQuery();
        expect(await copy.done).toBe('ended');
        expect(read).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('hands pg an error the server sends, and fails on a stream that ends before its trailer', async () => {
    const stream = new EventEmitter();
    const handed: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => handed.push(chunk));
    const copy = copyRowsQuery('COPY ...', () => true);
    copy.query.submit({ stream: stream as never, query: () => undefined });
    const error = message('E', Buffer.from('SERROR\0\0'));
    stream.emit('data', Buffer.concat([message('H', Buffer.from([1, 0, 5])), message('d', copyStream([]).subarray(0, 10)), error]));
    expect(Buffer.concat(handed)).toEqual(error);
    copy.query.handleError(new Error('from the server'));
    await expect(copy.done).rejects.toThrow('from the server');

    const early = copyRowsQuery('COPY ...', () => true);
    const other = new EventEmitter();
    other.on('data', () => undefined);
    early.query.submit({ stream: other as never, query: () => undefined });
    other.emit('data', Buffer.concat([message('H', Buffer.from([1, 0, 5])), message('d', copyStream([]).subarray(0, 19)), message('c', Buffer.alloc(0))]));
    early.query.handleReadyForQuery();
    await expect(early.done).rejects.toThrow('ended before its trailer');
  });
});
