import type { StoredRow } from './entry.js';

/**
 * The `timestamp_utc` each raw row records, looked up by seq: rows are read a batch at a time, so
 * asking in increasing seq order (as the coverage check does) reads the ledger once. A row whose
 * body does not parse has no time (the chain check reports it); an entry that records no string
 * time reads as '', which the coverage check refuses like any other time that is not one.
 */
export function entryTimesFrom(read: (afterSeq: number, limit: number) => StoredRow[], batchSize = 1000): (seq: number) => string | undefined {
  let batch = new Map<number, string | undefined>();
  let low = 1;
  let high = 0;
  return (seq) => {
    if (seq < low || seq > high) {
      const rows = read(seq - 1, batchSize);
      batch = new Map(rows.map((r) => [r.seq, timeOf(r)]));
      low = seq;
      high = rows.length === 0 ? seq : Math.max(seq, rows[rows.length - 1]!.seq);
    }
    return batch.get(seq);
  };
}

function timeOf(row: StoredRow): string | undefined {
  try {
    const t = (JSON.parse(row.body) as { timestamp_utc?: unknown } | null)?.timestamp_utc;
    return typeof t === 'string' ? t : '';
  } catch {
    return undefined;
  }
}
