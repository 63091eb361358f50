import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedgerReader, verifyExport } from '../../src/audit/index.js';
import { readKeys } from '../../src/audit/read-keys.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { exportLedgerFile } from '../../src/export-ledger.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { rotateKeys, type RotationReport } from '../../src/rotate-keys.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { verifyLedgerFile } from '../../src/verify-ledger-file.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-rotation-');
const config = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'audit.checkpointEveryEntries': 2 } });
const db = join(tmp.dir, 'ledger.sqlite');
const start = () => startFlaggate(config, { logger: createLogger({ level: 'silent' }) });
const token = (sub: string, ...roles: string[]) => mintDevToken({ dataDir: tmp.dir, sub, roles, clock: systemClock });
const rotateAll = () => rotateKeys({ config, kinds: ['checkpoint', 'tsa', 'dev-issuer'], actor: 'ops', reason: 'scheduled rotation', clock: systemClock });

async function change(app: Flaggate, bearer: string, i: number): Promise<number> {
  const res = await fetch(`${app.proxyUrl}/flags/search.ranking-v2/${i % 2 ? 'enable' : 'disable'}`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'x-flaggate-reason': `change ${i}`, 'x-flaggate-ticket': 'CHG-7' } });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return res.status;
}

/** The distinct TSA certificates that signed the ledger's tokens (each token carries its signer). */
function tokenSigners(): Set<string> {
  const reader = openLedgerReader(db);
  try {
    // A stored token is a SignedData ContentInfo carrying its signer's certificate.
    return new Set(reader.tokens().map((t) => new X509Certificate(extractCert(t.token)).fingerprint256));
  } finally {
    reader.close();
  }
}

/** The first certificate in a DER blob: the first SEQUENCE that parses as X.509. */
function extractCert(der: Buffer): Buffer {
  for (let i = 0; i < der.length - 4; i += 1) {
    if (der[i] !== 0x30 || der[i + 1] !== 0x82) continue;
    const len = der.readUInt16BE(i + 2) + 4;
    try {
      return Buffer.from(new X509Certificate(der.subarray(i, i + len)).raw);
    } catch {
      // not a certificate; keep looking
    }
  }
  throw new Error('no certificate in token');
}

let online: RotationReport;
let offline: RotationReport;
let firstToken: string;
let app: Flaggate | undefined;

afterAll(async () => {
  await app?.close();
  tmp.cleanup();
});

describe('keys rotate', () => {
  it('rotates beside a running sidecar without a gap: old and new development tokens both pass', async () => {
    app = await start();
    firstToken = await token('riley', 'release_engineer');
    for (let i = 0; i < 3; i += 1) expect(await change(app, firstToken, i)).toBe(200);
    await app.checkpointer.checkpointNow();

    online = await rotateAll();
    expect(online.rotations.map((r) => r.kind)).toEqual(['checkpoint', 'tsa', 'dev-issuer']);
    expect(online.rotations.every((r) => r.previous !== null && r.previous !== r.current)).toBe(true);
    expect(online.covered).toBe(true);

    const secondToken = await token('riley', 'release_engineer');
    expect(secondToken.split('.')[0]).not.toBe(firstToken.split('.')[0]); // a new kid in the header
    expect(await change(app, secondToken, 3)).toBe(200);
    expect(await change(app, firstToken, 4)).toBe(200);
    await app.close();
    app = undefined;
  }, 60_000);

  it('rotates a stopped sidecar; after restart it signs with the new keys and still accepts earlier tokens', async () => {
    offline = await rotateAll();
    expect(offline.rotations.map((r) => r.previous)).toEqual(online.rotations.map((r) => r.current));
    app = await start();
    const thirdToken = await token('riley', 'release_engineer');
    expect(await change(app, thirdToken, 5)).toBe(200);
    expect(await change(app, firstToken, 6)).toBe(200);
    await app.checkpointer.checkpointNow();
  }, 60_000);

  it('records every rotation as a key.rotated entry naming the old and new key', () => {
    const reader = openLedgerReader(db);
    try {
      const entries = reader.rowsAfter(0, 1000).map((r) => JSON.parse(r.body) as { entry_type: string; previous_state: unknown; new_state: unknown; actor: { auth_method: string }; reason: string });
      const rotated = entries.filter((e) => e.entry_type === 'key.rotated');
      expect(rotated).toHaveLength(6);
      expect(rotated[0]).toMatchObject({ actor: { auth_method: 'host' }, reason: 'scheduled rotation', new_state: { key: 'checkpoint', id: online.rotations[0]!.current } });
      expect(rotated.map((e) => (e.new_state as { id: string }).id)).toEqual([...online.rotations, ...offline.rotations].map((r) => r.current));
      // The running sidecar signs with the key rotated beside it from its next checkpoint on (the
      // retired key's private half is gone); after the restart, with the newest one.
      expect(new Set(reader.checkpoints().map((c) => c.kid))).toEqual(new Set([online.rotations[0]!.previous, online.rotations[0]!.current, offline.rotations[0]!.current]));
    } finally {
      reader.close();
    }
    // Tokens by the first TSA key (running), the second (the rotation entries made beside it) and the third.
    expect(tokenSigners().size).toBe(3);
  });

  it('replaces no key when the ledger cannot record the rotation (another chain id): nothing in force that no entry names', async () => {
    const keyring = () => JSON.parse(readFileSync(join(tmp.dir, 'audit-keys', 'keyring.json'), 'utf8')) as { active: string; keys: unknown[] };
    const before = keyring();
    const elsewhere = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'audit.chainId': 'another-chain' } });
    await expect(rotateKeys({ config: elsewhere, kinds: ['checkpoint'], actor: 'ops', clock: systemClock })).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    expect(keyring()).toEqual(before);
  });

  it('verifies online: the running sidecar reports the whole chain, checkpoints and tokens as ok', async () => {
    const auditor = await token('ada', 'auditor');
    const res = await fetch(`${app!.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    const report = (await res.json()) as { ok: boolean; checkpoints: { checked: number } };
    expect(res.status).toBe(200);
    expect(report).toMatchObject({ ok: true });
  });

  it('verifies the ledger file and an offline export, entries before and after each rotation', async () => {
    const file = await verifyLedgerFile({ db, maxDelaySeconds: 3600, skewSeconds: 5 });
    expect(file).toMatchObject({ ok: true, timestamps: { ok: true } });
    expect(file.checkpoints.checked).toBeGreaterThanOrEqual(3);

    const out = join(tmp.dir, 'export');
    await exportLedgerFile({ db, out, filters: {}, maxBytes: 1 << 30 });
    const pinned = readKeys(join(config.audit.keysDir, 'keyring.json'));
    const report = await verifyExport(out, { verifyTokens: verifyCoverage, keys: pinned, tsaTrustPem: readFileSync(join(tmp.dir, 'tsa', 'ca.crt'), 'utf8') });
    expect(report).toMatchObject({ ok: true, timestamps: { ok: true } });
  });

  it('rejects the history when only the newest keys are trusted (the old ones are really checked)', async () => {
    const newest = readKeys(join(config.audit.keysDir, 'keyring.json')).keys.slice(0, 1);
    const out = join(tmp.dir, 'export');
    const keysOnly = await verifyExport(out, { verifyTokens: verifyCoverage, keys: { keys: newest } });
    expect(keysOnly.ok).toBe(false);
    expect(JSON.stringify(keysOnly)).toContain('unknown_key');

    const anchors = readFileSync(join(tmp.dir, 'tsa', 'ca.crt'), 'utf8');
    const newestAnchor = anchors.slice(0, anchors.indexOf('-----END CERTIFICATE-----') + 26);
    const tsaOnly = await verifyExport(out, { verifyTokens: verifyCoverage, tsaTrustPem: newestAnchor });
    expect(tsaOnly).toMatchObject({ ok: false, timestamps: { ok: false } });
  });
});
