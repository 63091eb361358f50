import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Checkpoint, StoredRow } from '../audit/index.js';
import { FlaggateError } from '../errors.js';

/** What a segment is cut from: the ledger file, read-only. */
export interface SegmentSource {
  chainId: string;
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  hashAt(seq: number): string | undefined;
  checkpoints(): Checkpoint[];
  tokensFrom(fromSeq: number, limit: number): Array<{ coversSeq: number; coversHash: string; token: Buffer }>;
}

/**
 * A sealed segment of one chain: the rows (fromSeq..toSeq], as stored), every checkpoint in that
 * range (the last one at toSeq closes it), the RFC 3161 tokens over its entries (and the first one
 * past it, which covers its tail through the chain), and the policy bundles its decisions name.
 */
export interface Segment {
  format: 'flaggate-archive-segment/1';
  chain_id: string;
  from_seq: number;
  to_seq: number;
  /** The hash of the entry before from_seq (64 zeros for the first segment): the link to the previous segment. */
  prev_hash: string;
  head_hash: string;
  rows: StoredRow[];
  checkpoints: Checkpoint[];
  tokens: Array<{ covers_seq: number; covers_hash: string; token_der_base64: string }>;
  /** Each bundle sha256 the segment's decisions name; the tarball when this host still has it. */
  bundles: Array<{ sha256: string; tarball_base64: string | null }>;
}

export interface SealedSegment {
  segment: Segment;
  bytes: Buffer;
  sha256: string;
}

const GENESIS = '0'.repeat(64);

/**
 * Cuts the segment (afterSeq, checkpoint.seq] out of the ledger. The bytes are the segment's JSON
 * (fields in the order above); `sha256` is their digest, the one recorded and checked after upload.
 */
export function sealSegment(source: SegmentSource, afterSeq: number, closing: Checkpoint, bundleFiles: readonly string[]): SealedSegment {
  const rows: StoredRow[] = [];
  for (let after = afterSeq; after < closing.seq; ) {
    const page = source.rowsAfter(after, Math.min(5000, closing.seq - after));
    if (page.length === 0) break;
    rows.push(...page);
    after = page[page.length - 1]!.seq;
  }
  const last = rows[rows.length - 1];
  if (!last || last.seq !== closing.seq || last.hash !== closing.hash || rows[0]!.seq !== afterSeq + 1 || rows.length !== closing.seq - afterSeq) {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the ledger does not hold seq ${afterSeq + 1}..${closing.seq} ending in the checkpointed hash`, {
      details: { fromSeq: afterSeq + 1, toSeq: closing.seq, checkpointHash: closing.hash, found: last?.hash ?? null },
    });
  }
  const segment: Segment = {
    format: 'flaggate-archive-segment/1',
    chain_id: source.chainId,
    from_seq: afterSeq + 1,
    to_seq: closing.seq,
    prev_hash: afterSeq === 0 ? GENESIS : (source.hashAt(afterSeq) ?? GENESIS),
    head_hash: closing.hash,
    rows,
    checkpoints: source.checkpoints().filter((c) => c.seq > afterSeq && c.seq <= closing.seq),
    tokens: segmentTokens(source, afterSeq + 1, closing.seq),
    bundles: segmentBundles(rows, bundleFiles),
  };
  const bytes = Buffer.from(JSON.stringify(segment));
  return { segment, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Tokens over seqs in the range, and the first past it (it covers the range's tail through the chain). */
function segmentTokens(source: SegmentSource, fromSeq: number, toSeq: number): Segment['tokens'] {
  const out: Segment['tokens'] = [];
  for (let from = fromSeq; ; ) {
    const page = source.tokensFrom(from, 1000);
    for (const t of page) {
      out.push({ covers_seq: t.coversSeq, covers_hash: t.coversHash, token_der_base64: t.token.toString('base64') });
      if (t.coversSeq >= toSeq) return out;
    }
    if (page.length < 1000) return out;
    from = page[page.length - 1]!.coversSeq + 1;
  }
}

function segmentBundles(rows: readonly StoredRow[], bundleFiles: readonly string[]): Segment['bundles'] {
  const named = new Set<string>();
  for (const row of rows) {
    const sha = (JSON.parse(row.body) as { decision?: { policy_sha256?: string | null } }).decision?.policy_sha256;
    if (sha) named.add(sha);
  }
  const held = new Map<string, Buffer>();
  for (const file of bundleFiles) {
    try {
      const bytes = readFileSync(file);
      held.set(createHash('sha256').update(bytes).digest('hex'), bytes);
    } catch {
      // a bundle file that is gone is archived as named only
    }
  }
  return [...named].sort().map((sha256) => ({ sha256, tarball_base64: held.get(sha256)?.toString('base64') ?? null }));
}

/** Reads segment bytes back; a document that is not a segment throws ARCHIVE_MISMATCH. */
export function parseSegment(bytes: Uint8Array): Segment {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Segment;
    if (parsed.format !== 'flaggate-archive-segment/1' || !Array.isArray(parsed.rows)) throw new Error(`format ${String(parsed.format)}`);
    return parsed;
  } catch (cause) {
    throw new FlaggateError('ARCHIVE_MISMATCH', 'the archived object is not a flaggate segment', { cause });
  }
}
