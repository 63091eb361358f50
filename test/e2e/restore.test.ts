import { cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { readKeys } from '../../src/audit/read-keys.js';
import { backupLedger } from '../../src/backup-ledger.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { restoreFromPostgres } from '../../src/restore-ledger.js';
import { verifyLedgerFile } from '../../src/verify-ledger-file.js';
import { changeFlag, runCli } from '../replicate/sidecar-process.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';

const chainId = 'restore-a';
let cluster: PgCluster;
let db: LedgerDatabase;
let writerUrl: string;
const root = mkdtempSync(join(tmpdir(), 'flaggate-restore-'));
const dataDir = join(root, 'data');
/** What an operator keeps outside the data directory (in Kubernetes, the Secrets). */
const secrets = join(root, 'secrets');
const ledgerFile = join(dataDir, 'ledger.sqlite');
let app: Flaggate | undefined;

const start = () =>
  startFlaggate(loadConfig({ env: { FLAGGATE_UPSTREAM_POSTGRES_URL: writerUrl }, overrides: { dataDir, proxyPort: 0, controlPort: 0, 'audit.chainId': chainId } }), {
    logger: createLogger({ level: 'silent' }),
  });
const release = () => mintDevToken({ dataDir, sub: 'riley', roles: ['release_engineer'], clock: systemClock });
const keys = () => readKeys(join(secrets, 'audit-keys', 'keyring.json'));
const rows = (file: string) => {
  const r = openLedgerReader(file);
  try {
    return r.rowsAfter(0, 10_000);
  } finally {
    r.close();
  }
};

beforeAll(async () => {
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'restore');
  writerUrl = await db.writerUrl(chainId);
  app = await start();
  const token = await release();
  for (const on of [true, false, true]) expect((await changeFlag(app.proxyUrl, token, 'checkout.new-flow', on, 'rollout')).status).toBe(200);
  await app.close(); // seals the tail: a checkpoint over the head, delivered upstream
  app = undefined;
  for (const dir of ['audit-keys', 'tsa', 'dev-issuer']) cpSync(join(dataDir, dir), join(secrets, dir), { recursive: true });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('flaggate backup', () => {
  it('copies the ledger with entries, checkpoints and tokens; the copy verifies; an existing file is refused', async () => {
    const out = join(root, 'backup.sqlite');
    const report = await backupLedger({ db: ledgerFile, out });
    expect(report).toMatchObject({ chainId, head: { seq: rows(ledgerFile).length } });
    expect(rows(out)).toEqual(rows(ledgerFile));
    const copy = openLedgerReader(out);
    try {
      expect(copy.tokens().length).toBeGreaterThan(0);
      expect(copy.checkpoints().length).toBeGreaterThan(0);
    } finally {
      copy.close();
    }
    await expect(backupLedger({ db: ledgerFile, out })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    // The copy holds what the ledger holds: as private as it.
    expect(statSync(out).mode & 0o777).toBe(0o600);
    // A dangling link is not followed to wherever it points.
    const link = join(root, 'backup-link.sqlite');
    symlinkSync(join(root, 'elsewhere.sqlite'), link);
    await expect(backupLedger({ db: ledgerFile, out: link })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(existsSync(join(root, 'elsewhere.sqlite'))).toBe(false);
  });
});

describe('flaggate restore --from-postgres', () => {
  let before: ReturnType<typeof rows>;

  it('rebuilds a deleted data directory from PostgreSQL; the sidecar serves and chains onto the restored head', async () => {
    before = rows(ledgerFile);
    rmSync(dataDir, { recursive: true, force: true });
    for (const dir of ['audit-keys', 'tsa', 'dev-issuer']) cpSync(join(secrets, dir), join(dataDir, dir), { recursive: true });

    const report = await restoreFromPostgres({ url: db.ownerUrl, chainId, ledger: ledgerFile, keys: keys(), clock: systemClock });
    expect(report).toMatchObject({ chainId, entries: before.length, head: { seq: before.at(-1)!.seq, hash: before.at(-1)!.hash } });
    expect(report.checkpoints).toBeGreaterThan(0);
    expect(rows(ledgerFile)).toEqual(before);
    // The bundle that decided every entry is back in the archive, from PostgreSQL: replay works as before.
    expect(report.bundles).toEqual({ restored: 1, missing: [] });
    const replayed = await runCli(['replay', '--db', ledgerFile, '--json']);
    expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);

    app = await start();
    expect((await changeFlag(app.proxyUrl, await release(), 'checkout.new-flow', false, 'after restore')).status).toBe(200);
    await app.close();
    app = undefined;
    const after = rows(ledgerFile);
    expect(after.length).toBeGreaterThan(before.length);
    expect(after[before.length]!.prev_hash).toBe(before.at(-1)!.hash);
    expect(await verifyLedgerFile({ db: ledgerFile, upstreams: [db.ownerUrl], maxDelaySeconds: 3600, skewSeconds: 5 })).toMatchObject({ ok: true });
  }, 60_000);

  it('refuses to write over an existing ledger, or beside the -wal a crashed one left', async () => {
    await expect(restoreFromPostgres({ url: db.ownerUrl, chainId, ledger: ledgerFile, keys: keys(), clock: systemClock })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const moved = join(root, 'moved-away.sqlite');
    writeFileSync(`${moved}-wal`, 'a crashed sidecar\'s write-ahead log');
    await expect(restoreFromPostgres({ url: db.ownerUrl, chainId, ledger: moved, keys: keys(), clock: systemClock })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('-wal exists') });
    expect(existsSync(moved)).toBe(false);
  });

  it.each([
    { name: 'a tampered row', sql: `UPDATE flaggate.audit_entries SET body = replace(body, 'rollout', 'rollback') WHERE chain_id = $1 AND seq = 2` },
    { name: 'a checkpoint signed by an unknown key', sql: `UPDATE flaggate.checkpoints SET jws = (SELECT jws FROM flaggate.checkpoints WHERE chain_id = $1 ORDER BY seq LIMIT 1) || 'x' WHERE chain_id = $1` },
  ])('refuses a PostgreSQL copy with $name and leaves no ledger behind', async ({ sql }) => {
    const copyDb = await createLedgerDatabase(cluster, `tampered_${Math.random().toString(36).slice(2, 8)}`);
    const admin = new pg.Client({ connectionString: copyDb.ownerUrl });
    await admin.connect();
    try {
      // A copy of the central ledger (as from a backup), edited behind the append-only triggers.
      const source = new pg.Client({ connectionString: db.ownerUrl });
      await source.connect();
      for (const table of ['audit_entries', 'checkpoints']) {
        const { rows: all } = await source.query(`SELECT * FROM flaggate.${table} WHERE chain_id = $1 ORDER BY seq`, [chainId]);
        for (const r of all) {
          const cols = Object.keys(r);
          await admin.query(`INSERT INTO flaggate.${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => r[c]));
        }
      }
      await source.end();
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await admin.query('ALTER TABLE flaggate.checkpoints DISABLE TRIGGER USER');
      expect((await admin.query(sql, [chainId])).rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    const target = join(root, 'refused.sqlite');
    await expect(restoreFromPostgres({ url: copyDb.ownerUrl, chainId, ledger: target, keys: keys(), clock: systemClock })).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN' });
    expect(existsSync(target)).toBe(false);
    expect(existsSync(`${target}.restoring`)).toBe(false);
  }, 60_000);
});
