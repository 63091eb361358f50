import { canonicalJson } from './canonical.js';
import type { StoredRow } from './entry.js';
import { chainHash } from './hash-entry.js';
import type { FailureKind, TrustedHead } from './verify.js';

interface RowFacts {
  /** The row's body and hash agree with each other, whatever its seq column says. */
  intact: boolean;
  canonical: boolean;
  bodySeq: number | undefined;
}

function facts(row: StoredRow): RowFacts {
  let body: { seq?: unknown; prev_hash?: unknown; chain_id?: unknown };
  try {
    body = JSON.parse(row.body) as typeof body;
  } catch {
    return { intact: false, canonical: false, bodySeq: undefined };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { intact: false, canonical: false, bodySeq: undefined };
  let canonical = false;
  try {
    canonical = canonicalJson(body) === row.body;
  } catch {
    canonical = false;
  }
  const bodySeq = typeof body.seq === 'number' ? body.seq : undefined;
  const intact = canonical && body.prev_hash === row.prev_hash && body.chain_id === row.chain_id && chainHash(row.prev_hash, row.body) === row.hash;
  return { intact, canonical, bodySeq };
}

/** True when the row verifies and links to `prev`, exactly at the next seq. */
export function rowLinks(row: StoredRow, prev: TrustedHead): boolean {
  const f = facts(row);
  return f.intact && f.bodySeq === row.seq && row.seq === prev.seq + 1 && row.prev_hash === prev.hash;
}

/**
 * Names what happened at the first row that does not link, from that row and the rows after it
 * (`rows[0]` is the offender). Tells an edit from a deletion, an insertion or a reordering by what
 * the surviving rows still prove: an intact row out of place was moved or shifted, a row whose own
 * hash no longer holds was edited.
 */
export function classifyBreak(prev: TrustedHead, rows: StoredRow[]): { seq: number; kind: FailureKind; message: string } {
  const expected = prev.seq + 1;
  const [row, next] = rows;
  if (!row) throw new TypeError('classifyBreak needs the offending row');
  const here = facts(row);
  const later = rows.slice(1).map((r) => ({ row: r, ...facts(r) }));

  if (row.seq < expected) {
    return row.hash === prev.hash
      ? { seq: row.seq, kind: 'inserted', message: `seq ${row.seq} appears twice` }
      : { seq: row.seq, kind: 'reordered', message: `seq ${row.seq} appears after seq ${prev.seq}` };
  }
  if (row.seq > expected) {
    if (later.some((r) => r.row.seq === expected)) return { seq: expected, kind: 'reordered', message: `seq ${expected} comes after seq ${row.seq}` };
    if ((here.intact && here.bodySeq === expected) || later.some((r) => r.intact && r.bodySeq === expected)) {
      return { seq: expected, kind: 'modified', message: `the entry of seq ${expected} was moved to another seq` };
    }
    return { seq: expected, kind: 'deleted', message: `seq ${expected} is missing (the next row is seq ${row.seq})` };
  }
  // The original entry of this seq sits right after the offender: either a row was inserted
  // (everything after it shifted by one) or the offender and its successor were swapped.
  const nextFacts = next ? facts(next) : undefined;
  if (next && nextFacts?.intact && nextFacts.bodySeq === expected && next.prev_hash === prev.hash) {
    const third = rows[2] ? facts(rows[2]) : undefined;
    const shifted = third?.bodySeq === expected + 1;
    if (!shifted && here.intact && here.bodySeq === expected + 1) {
      return { seq: expected, kind: 'reordered', message: `the entries of seq ${expected} and ${expected + 1} were swapped` };
    }
    return { seq: expected, kind: 'inserted', message: `a row was inserted before the entry of seq ${expected}` };
  }
  if (here.intact && here.bodySeq !== undefined && here.bodySeq > expected) {
    return later.some((r) => r.intact && r.bodySeq === expected)
      ? { seq: expected, kind: 'reordered', message: `the entry of seq ${here.bodySeq} sits at seq ${expected}` }
      : { seq: expected, kind: 'deleted', message: `entries from seq ${expected} to ${here.bodySeq - 1} are missing` };
  }
  if (!here.intact) {
    const message = here.bodySeq !== undefined && !here.canonical
      ? 'the stored body is not RFC 8785 canonical JSON'
      : 'the entry does not hash to its stored hash, or its columns disagree with its body';
    return { seq: expected, kind: 'modified', message };
  }
  if (here.bodySeq !== undefined && here.bodySeq < expected) {
    return { seq: expected, kind: 'inserted', message: `rows were inserted: the entry of seq ${here.bodySeq} sits at seq ${expected}` };
  }
  return { seq: expected, kind: 'modified', message: 'the entry does not link to the previous entry' };
}
