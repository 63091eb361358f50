import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isoUtc, systemClock, type Clock } from './clock.js';
import { openKeyring, openLedger, openLedgerReader, signCheckpoint, writeExport, type ExportFilters, type ExportManifest, type Keyring, type Ledger } from './audit/index.js';
import type { Timestamper } from './timestamp/index.js';
import { openTokenStore } from './timestamp/index.js';

/**
 * An export of a running sidecar's ledger (for /v1/audit/export): the head is covered by a token
 * and sealed by a fresh checkpoint first, so the package's newest entries are provable too.
 */
export async function exportLedger(o: {
  ledger: Ledger;
  keyring: Keyring;
  timestamper: Timestamper;
  clock: Clock;
  out: string;
  from?: string;
  to?: string;
  filters?: ExportFilters;
}): Promise<ExportManifest> {
  await o.timestamper.coverHead().catch(() => undefined); // an outage shows in the package as uncovered
  await sealHead(o.ledger, o.keyring, o.clock);
  const trust = o.timestamper.trust;
  return await writeExport(
    {
      chainId: o.ledger.chainId,
      rowsAfter: o.ledger.rowsAfter,
      checkpoints: () => o.ledger.checkpoints(),
      keys: o.keyring.jwks(),
      keyring: o.keyring,
      timestamps: {
        trustAnchorsPem: pemText(trust.trustAnchorsPem),
        untrustedPem: pemText(trust.untrustedPem ?? ''),
        tokens: o.timestamper.tokens().map((t) => ({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: t.token.toString('base64') })),
      },
    },
    o.out,
    { createdAt: isoUtc(o.clock.now()), ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), ...(o.filters ? { filters: o.filters } : {}) },
  );
}

/**
 * `flaggate export --db`: the same package from a ledger file, using the keyring and embedded TSA
 * certificates kept beside it.
 */
export async function exportLedgerFile(o: { db: string; out: string; from?: string; to?: string; filters?: ExportFilters }): Promise<ExportManifest> {
  const reader = openLedgerReader(o.db);
  const chainId = reader.chainId;
  reader.close();
  if (!chainId) throw new TypeError(`${o.db} is not a flaggate ledger`);
  const dataDir = dirname(o.db);
  const ledger = openLedger({ path: o.db, chainId, clock: systemClock });
  const tokens = openTokenStore(o.db);
  try {
    const keyring = await openKeyring(join(dataDir, 'audit-keys'), systemClock);
    await sealHead(ledger, keyring, systemClock);
    const read = (name: string) => (existsSync(join(dataDir, 'tsa', name)) ? readFileSync(join(dataDir, 'tsa', name), 'utf8') : '');
    return await writeExport(
      {
        chainId,
        rowsAfter: ledger.rowsAfter,
        checkpoints: () => ledger.checkpoints(),
        keys: keyring.jwks(),
        keyring,
        timestamps: {
          trustAnchorsPem: read('ca.crt'),
          untrustedPem: read('tsa.crt'),
          tokens: tokens.all().map((t) => ({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: t.token.toString('base64') })),
        },
      },
      o.out,
      { createdAt: isoUtc(systemClock.now()), ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), ...(o.filters ? { filters: o.filters } : {}) },
    );
  } finally {
    tokens.close();
    ledger.close();
  }
}

async function sealHead(ledger: Ledger, keyring: Keyring, clock: Clock): Promise<void> {
  const head = ledger.head();
  const latest = ledger.checkpoints().at(-1);
  if (head.seq > 0 && (!latest || latest.seq < head.seq)) {
    ledger.appendCheckpoint(await signCheckpoint({ chainId: ledger.chainId, seq: head.seq, hash: head.hash, time: isoUtc(clock.now()) }, keyring));
  }
}

function pemText(pem: string | string[]): string {
  return Array.isArray(pem) ? pem.join('\n') : pem;
}
