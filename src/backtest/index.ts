/** Backtesting a candidate policy bundle against the decisions a ledger recorded. */
import { openLedgerReader, rowToEntry, type AuditEntryBody } from '../audit/index.js';

export { backtestDecisions, formatBacktest, type BacktestReport, type BacktestChange, type BacktestOptions } from './backtest.js';
export { rebuildPolicyInput } from './rebuild-input.js';
export { replayDecisions, type ReplayReport, type ReplayDisagreement } from './replay.js';
export { archiveBundleFiles, loadReplayBundles, readExportForReplay, readPostgresForReplay, type ReplayBundles } from './replay-sources.js';

/** Every entry of a ledger file in chain order, read-only, a page at a time. */
export function* readLedgerEntries(path: string): Generator<AuditEntryBody> {
  const reader = openLedgerReader(path);
  try {
    for (let after = 0; ; ) {
      const rows = reader.rowsAfter(after, 500);
      if (rows.length === 0) return;
      for (const row of rows) yield rowToEntry(row);
      after = rows[rows.length - 1]!.seq;
    }
  } finally {
    reader.close();
  }
}
