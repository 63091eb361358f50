import { afterEach } from 'vitest';
import { openLedger, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { makeTempDir } from './temp-dir.js';

/**
 * For a test file: a function that opens a fresh ledger (chain `test`, a fixed clock) in its own
 * temp dir; each is closed and removed after the test that opened it.
 */
export function useTempLedgers(): () => Ledger {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));
  return () => {
    const tmp = makeTempDir();
    const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'test', clock: fixedClock(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    cleanups.push(() => {
      ledger.close();
      tmp.cleanup();
    });
    return ledger;
  };
}
