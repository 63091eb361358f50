import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tar from 'tar';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntryBody } from '../../src/audit/index.js';
import { readLedgerEntries } from '../../src/backtest/index.js';
import { markerText } from '../../src/compose/in-force.js';
import { loadConfig } from '../../src/config/index.js';
import { bundlePolicySha256, fetchBundle, pollDelayMs } from '../../src/policy/index.js';
import { changeFlag, startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { startTestFlaggate } from '../support/flaggate.js';
import { makeTempDir } from '../support/temp-dir.js';
import { buildSignedBundle, ensureOpa } from './opa-bundle.js';

const allowAll = (tag: string) => `package flaggate.authz
decision := {"allow": true, "reasons": ["${tag}"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
`;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** OPA's bundle server at its plainest: one bundle, its ETag, 304 when If-None-Match names it. */
interface BundleServer {
  url: string;
  serve(bytes: Buffer): string;
  /** The If-None-Match of every request so far (null when none was sent). */
  asked: Array<string | null>;
  close(): Promise<void>;
}

async function startBundleServer(): Promise<BundleServer> {
  let bundle: Buffer = Buffer.alloc(0);
  let etag = '';
  const asked: Array<string | null> = [];
  const server: Server = createServer((req, res) => {
    const ifNoneMatch = req.headers['if-none-match'] ?? null;
    asked.push(ifNoneMatch);
    if (ifNoneMatch === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/gzip', etag }).end(bundle);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/flaggate.tar.gz`,
    serve(bytes) {
      bundle = bytes;
      etag = `"${sha256(bytes).slice(0, 16)}"`;
      return etag;
    },
    asked,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function revisionOf(s: { controlUrl: string }): Promise<string> {
  const ready = (await (await fetch(`${s.controlUrl}/readyz`)).json()) as { checks: { policy: { detail: string } } };
  return ready.checks.policy.detail;
}

function entries(s: SidecarProcess): AuditEntryBody[] {
  return [...readLedgerEntries(join(s.dataDir, 'ledger.sqlite'))];
}

let tmp: ReturnType<typeof makeTempDir>;
let server: BundleServer;
let bundles: { r1: Buffer; r2: Buffer; r3: Buffer; forged: Buffer };
let publicFile: string;
const fleet: SidecarProcess[] = [];

function build(name: string, tag: string, privateFile: string): Buffer {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  return readFileSync(buildSignedBundle(dir, { rego: allowAll(tag), revision: tag, signingKey: privateFile, alg: 'ES256' }));
}

function keyFiles(name: string): { privateFile: string; publicFile: string } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const files = { privateFile: join(tmp.dir, `${name}.pem`), publicFile: join(tmp.dir, `${name}.pub.pem`) };
  writeFileSync(files.privateFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return files;
}

/**
 * The same signed bundle with file `name` rewritten by `edit` (and `extra` files added): the
 * signature's digests of JSON files are over their parsed form, and the signature file itself is
 * not among them, so each such variant still verifies.
 */
function reframe(bundle: Buffer, name: string, edit: (text: string) => string, extra: Record<string, string> = {}): Buffer {
  const dir = mkdtempSync(join(tmp.dir, 'reframe-'));
  const files = join(dir, 'files');
  mkdirSync(files);
  writeFileSync(join(dir, 'in.tar.gz'), bundle);
  const names: string[] = [];
  tar.x({ file: join(dir, 'in.tar.gz'), cwd: files, sync: true, onReadEntry: (e) => void names.push(e.path.replace(/^\//, '')) });
  writeFileSync(join(files, name), edit(readFileSync(join(files, name), 'utf8')));
  for (const [extraName, text] of Object.entries(extra)) writeFileSync(join(files, extraName), text);
  tar.c({ gzip: true, cwd: files, file: join(dir, 'out.tar.gz'), sync: true, portable: true }, [...names, ...Object.keys(extra)]);
  return readFileSync(join(dir, 'out.tar.gz'));
}

const env = () => ({
  FLAGGATE_POLICY_VERIFICATION_KEY: publicFile,
  FLAGGATE_POLICY_SERVICE_URL: server.url,
  FLAGGATE_POLICY_SERVICE_MIN_DELAY_SECONDS: '0.2',
  FLAGGATE_POLICY_SERVICE_MAX_DELAY_SECONDS: '1',
});

beforeAll(async () => {
  ensureOpa();
  tmp = makeTempDir('flaggate-bundle-service-');
  const pinned = keyFiles('pinned');
  const attacker = keyFiles('attacker');
  publicFile = pinned.publicFile;
  bundles = {
    r1: build('r1', 'svc-1', pinned.privateFile),
    r2: build('r2', 'svc-2', pinned.privateFile),
    r3: build('r3', 'svc-3', pinned.privateFile),
    forged: build('forged', 'svc-forged', attacker.privateFile),
  };
  server = await startBundleServer();
}, 120_000);

afterAll(async () => {
  for (const s of fleet) await s.kill('SIGTERM');
  await server.close();
  tmp.cleanup();
});

describe('the bundle service', () => {
  it('a fleet of two sidecars picks up a new signed revision within the polling window, each swap a policy.activated entry', async () => {
    const first = server.serve(bundles.r1);
    fleet.push(...(await Promise.all(['a', 'b'].map((id) => startSidecarProcess({ dataDir: join(tmp.dir, id), chainId: id, env: env() })))));
    for (const s of fleet) expect(await revisionOf(s)).toBe('svc-1');
    await until('a poll that names the bundle it holds', async () => (server.asked.includes(first) ? true : undefined));

    const second = server.serve(bundles.r2);
    await Promise.all(fleet.map((s) => until('svc-2 in force', async () => ((await revisionOf(s)) === 'svc-2' ? true : undefined))));

    for (const s of fleet) {
      const activated = entries(s).filter((e) => e.entry_type === 'policy.activated');
      expect(activated).toHaveLength(1);
      expect(activated[0]).toMatchObject({
        actor: { id: 'flaggate', auth_method: 'system' },
        previous_state: { revision: 'svc-1', sha256: sha256(bundles.r1) },
        new_state: { revision: 'svc-2', sha256: sha256(bundles.r2), key_id: 'default', delivered_by: { kind: 'service', url: server.url, etag: second } },
        decision: { policy_revision: 'svc-2', policy_sha256: sha256(bundles.r2) },
      });
      // Both bundles that were ever in force are kept by digest.
      for (const b of [bundles.r1, bundles.r2]) expect(existsSync(join(s.dataDir, 'policy-bundles', `${sha256(b)}.tar.gz`))).toBe(true);
    }
    const change = await changeFlag(fleet[0]!.proxyUrl, await fleet[0]!.token('ada', 'release_engineer'), 'checkout.new-flow', true, 'after the swap');
    expect(change.status).toBe(200);
    const decision = entries(fleet[0]!).find((e) => e.entry_type === 'change.decision');
    expect(decision?.decision).toMatchObject({ policy_revision: 'svc-2', policy_sha256: sha256(bundles.r2), reasons: ['svc-2'] });
  }, 240_000);

  it('refuses a bundle signed by another key: the running one stays, with a metric and a log line naming the code', async () => {
    const [a] = fleet;
    server.serve(bundles.forged);
    const metrics = await until('the refusal counted', async () => {
      const text = await (await fetch(`${a!.controlUrl}/metrics`)).text();
      return text.includes('flaggate_policy_bundle_refusals_total{code="POLICY_BUNDLE_SIGNATURE_INVALID"}') ? text : undefined;
    });
    expect(metrics).toMatch(/flaggate_policy_reloads_total\{result="refused"\} [1-9]/);
    expect(await revisionOf(a!)).toBe('svc-2');
    expect(a!.logs()).toMatch(/policy bundle refused; the running policy stays.*POLICY_BUNDLE_SIGNATURE_INVALID/);
    expect(entries(a!).filter((e) => e.entry_type === 'policy.activated')).toHaveLength(1);
    expect(existsSync(join(a!.dataDir, 'policy-bundles', `${sha256(bundles.forged)}.tar.gz`))).toBe(false);
  }, 120_000);

  it('starts on the persisted last-good bundle when the server is down, and not at all without one', async () => {
    const a = fleet.shift()!;
    await a.kill('SIGTERM');
    await server.close();
    const restarted = await startSidecarProcess({ dataDir: a.dataDir, chainId: 'a', env: env() });
    fleet.push(restarted);
    expect(await revisionOf(restarted)).toBe('svc-2');
    expect(restarted.logs()).toContain('starting with the last good policy bundle');
    // Same bundle as before the restart: no new activation entry.
    expect(entries(restarted).filter((e) => e.entry_type === 'policy.activated')).toHaveLength(1);

    await expect(startSidecarProcess({ dataDir: join(tmp.dir, 'fresh'), chainId: 'fresh', env: env() })).rejects.toThrow(/POLICY_BUNDLE_UNAVAILABLE/);
  }, 240_000);

  it('refuses the signed bundle it replaced, served again, as a rollback: running, and at a start, which loads the last good one', async () => {
    server = await startBundleServer();
    server.serve(bundles.r1);
    const dataDir = join(tmp.dir, 'c');
    const c = await startSidecarProcess({ dataDir, chainId: 'c', env: env() });
    fleet.push(c);
    server.serve(bundles.r2);
    await until('svc-2 in force', async () => ((await revisionOf(c)) === 'svc-2' ? true : undefined));

    // The same signed files, framed anew so that neither the bytes nor the ETag repeat.
    server.serve(gzipSync(Buffer.concat([gunzipSync(bundles.r1), Buffer.alloc(512)])));
    await until('the rollback refused', async () => {
      const text = await (await fetch(`${c.controlUrl}/metrics`)).text();
      return text.includes('flaggate_policy_bundle_refusals_total{code="POLICY_BUNDLE_ROLLBACK"}') ? true : undefined;
    });
    expect(await revisionOf(c)).toBe('svc-2');

    await c.kill('SIGTERM');
    fleet.pop();
    const restarted = await startSidecarProcess({ dataDir, chainId: 'c', env: env() });
    fleet.push(restarted);
    expect(await revisionOf(restarted)).toBe('svc-2');
    expect(restarted.logs()).toMatch(/policy bundle refused; the running policy stays.*POLICY_BUNDLE_ROLLBACK/);
    expect(restarted.logs()).toContain('starting with the last good policy bundle');
    expect(entries(restarted).filter((e) => e.entry_type === 'policy.activated').map((e) => (e.new_state as { revision: string }).revision)).toEqual(['svc-2']);

    // Moved to a bundle file of a new revision while stopped: svc-2, the last good bundle of the
    // service, is replaced too, and no way back to it when the service replays svc-1.
    await restarted.kill('SIGTERM');
    fleet.pop();
    const file = join(tmp.dir, 'c-file.tar.gz');
    writeFileSync(file, bundles.r3);
    const onFile = await startSidecarProcess({ dataDir, chainId: 'c', env: { FLAGGATE_POLICY_VERIFICATION_KEY: publicFile, FLAGGATE_POLICY_BUNDLE: file } });
    expect(await revisionOf(onFile)).toBe('svc-3');
    await onFile.kill('SIGTERM');
    await expect(startSidecarProcess({ dataDir, chainId: 'c', env: env() })).rejects.toThrow(/POLICY_BUNDLE_ROLLBACK/);
  }, 240_000);
});

describe('a bundle file swapped in', () => {
  it('is recorded as policy.activated naming the file, the signer and the bundle before it; the same bytes again are no swap; the bundle it replaced is a rollback', async () => {
    const path = join(tmp.dir, 'live.tar.gz');
    writeFileSync(path, bundles.r1);
    const app = await startTestFlaggate({ 'policy.bundle': path, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000, 'policy.verificationExclude': ['*.txt'] });
    try {
      writeFileSync(path, bundles.r2);
      await app.reloadPolicy();
      await app.reloadPolicy();
      // The same files compressed again, with zero blocks after the tar's end: other bytes, the same bundle.
      writeFileSync(path, gzipSync(Buffer.concat([gunzipSync(bundles.r2), Buffer.alloc(20 * 512)]), { level: 1 }));
      await app.reloadPolicy();
      // The bundle replaced is refused as a rollback, however it is framed, spaced or signed
      // again, and with a file beside it that verification leaves out; svc-2 stays.
      const variants = [
        bundles.r1,
        gzipSync(Buffer.concat([gunzipSync(bundles.r1), Buffer.alloc(512)]), { level: 9 }),
        reframe(bundles.r1, '.signatures.json', (t) => JSON.stringify(JSON.parse(t))),
        reframe(bundles.r1, 'data.json', (t) => ` ${t}\n `),
        reframe(bundles.r1, '.manifest', (t) => JSON.stringify(JSON.parse(t), null, 4)),
        reframe(bundles.r1, 'data.json', (t) => t, { 'notes.txt': 'left out of verification' }),
      ];
      for (const variant of variants) {
        writeFileSync(path, variant);
        await app.reloadPolicy();
      }
      expect(await app.metrics.registry.metrics()).toContain(`flaggate_policy_bundle_refusals_total{code="POLICY_BUNDLE_ROLLBACK"} ${variants.length}`);
      expect(await revisionOf(app)).toBe('svc-2');
      const activated = app.ledger.entriesAfter(0, 100).filter((e) => e.entry_type === 'policy.activated');
      expect(activated).toHaveLength(1);
      expect(activated[0]).toMatchObject({
        previous_state: { revision: 'svc-1', sha256: sha256(bundles.r1) },
        new_state: { revision: 'svc-2', key_id: 'default', delivered_by: { kind: 'file', path } },
        request: { method: 'FILE', path, body_sha256: sha256(bundles.r2) },
      });
    } finally {
      await app.close();
    }

    // Swapped back while stopped: svc-1 was in force and was replaced, so it is a rollback.
    writeFileSync(path, bundles.r1);
    const start = (extra: Record<string, unknown> = {}) =>
      startTestFlaggate({ dataDir: app.dataDir, 'policy.bundle': path, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000, ...extra });
    await expect(start()).rejects.toMatchObject({ code: 'POLICY_BUNDLE_ROLLBACK' });
    // Let through on purpose, the next start records it.
    const restarted = await start({ 'policy.allowRollback': true });
    try {
      const activated = restarted.ledger.entriesAfter(0, 100).filter((e) => e.entry_type === 'policy.activated');
      expect(activated.map((e) => (e.new_state as { revision: string }).revision)).toEqual(['svc-2', 'svc-1']);
      expect(activated[1]).toMatchObject({ previous_state: { revision: 'svc-2', sha256: sha256(bundles.r2) } });
    } finally {
      await restarted.close();
    }
    // svc-1 is in force again, so it starts without the setting; svc-2 is now the one replaced.
    const again = await start();
    try {
      writeFileSync(path, bundles.r2);
      await again.reloadPolicy();
      expect(await again.metrics.registry.metrics()).toContain('flaggate_policy_bundle_refusals_total{code="POLICY_BUNDLE_ROLLBACK"} 1');
      expect(again.ledger.entriesAfter(0, 100).filter((e) => e.entry_type === 'policy.activated')).toHaveLength(2);
    } finally {
      await again.stop();
    }
  }, 60_000);
});

describe('a crash between noting a replaced bundle and recording its swap', () => {
  it('starts on the bundle the ledger names as in force, though it was noted as replaced', async () => {
    const path = join(tmp.dir, 'crash.tar.gz');
    writeFileSync(path, bundles.r1);
    const settings = { 'policy.bundle': path, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000 };
    const app = await startTestFlaggate(settings);
    await app.close();
    // The note of a swap from svc-1, written before the swap is recorded; then the process died.
    const list = join(app.dataDir, 'policy-bundles', 'replaced.json');
    writeFileSync(list, JSON.stringify({ policies: [await bundlePolicySha256(bundles.r1)] }));
    const restarted = await startTestFlaggate({ ...settings, dataDir: app.dataDir });
    try {
      expect(await revisionOf(restarted)).toBe('svc-1');
      // In force, so no longer listed.
      expect(JSON.parse(readFileSync(list, 'utf8'))).toEqual({ policies: [] });
    } finally {
      await restarted.stop();
    }
  }, 60_000);
});

describe('a crash between recording a swap and marking its bundle in force', () => {
  const setMarker = (dataDir: string, text: string) => {
    const db = new Database(join(dataDir, 'ledger.sqlite'));
    db.prepare("INSERT INTO ledger_meta (key, value) VALUES ('policy.in_force', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(text);
    db.close();
  };
  const svc1 = () => ({ revision: 'svc-1', sha256: sha256(bundles.r1) });
  const svc2 = () => ({ revision: 'svc-2', sha256: sha256(bundles.r2) });

  it('refuses at start the bundle the swap replaced once the chain holds the swap, though the marker still names it', async () => {
    const path = join(tmp.dir, 'crash-marker.tar.gz');
    writeFileSync(path, bundles.r1);
    const settings = { 'policy.bundle': path, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000 };
    const app = await startTestFlaggate(settings);
    const head = app.ledger.head().seq;
    writeFileSync(path, bundles.r2);
    await app.reloadPolicy();
    expect(await revisionOf(app)).toBe('svc-2');
    await app.close();
    // The marker as a crash right after svc-2's policy.activated entry leaves it; then svc-1 is put back.
    setMarker(app.dataDir, markerText(svc1(), { ...svc2(), afterSeq: head }));
    writeFileSync(path, bundles.r1);
    await expect(startTestFlaggate({ ...settings, dataDir: app.dataDir })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_ROLLBACK' });
    // Without the swap under way the chain is taken at the marker's word, as before (the case above).
    setMarker(app.dataDir, markerText(svc1()));
    const restarted = await startTestFlaggate({ ...settings, dataDir: app.dataDir });
    await restarted.stop();
  }, 60_000);

  it('starts on the bundle in force when the crash came before the swap was recorded', async () => {
    const path = join(tmp.dir, 'crash-before-record.tar.gz');
    writeFileSync(path, bundles.r1);
    const settings = { 'policy.bundle': path, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000 };
    const app = await startTestFlaggate(settings);
    const head = app.ledger.head().seq;
    await app.close();
    // Noted as replaced and marked as being swapped away from, but no entry of the swap in the chain.
    writeFileSync(join(app.dataDir, 'policy-bundles', 'replaced.json'), JSON.stringify({ policies: [await bundlePolicySha256(bundles.r1)] }));
    setMarker(app.dataDir, markerText(svc1(), { ...svc2(), afterSeq: head }));
    const restarted = await startTestFlaggate({ ...settings, dataDir: app.dataDir });
    try {
      expect(await revisionOf(restarted)).toBe('svc-1');
      expect(restarted.ledger.entriesAfter(0, 1000).filter((e) => e.entry_type === 'policy.activated')).toHaveLength(0);
    } finally {
      await restarted.stop();
    }
  }, 60_000);
});

describe('policy.service configuration', () => {
  it.each([
    { name: 'min above max', env: { FLAGGATE_POLICY_SERVICE_URL: 'http://127.0.0.1:1/b', FLAGGATE_POLICY_SERVICE_MIN_DELAY_SECONDS: '9', FLAGGATE_POLICY_SERVICE_MAX_DELAY_SECONDS: '3' }, want: /policy\.service\.minDelaySeconds/ },
    { name: 'plain http in production', env: { FLAGGATE_MODE: 'production', FLAGGATE_POLICY_SERVICE_URL: 'http://bundles.example/b' }, want: /policy\.service\.url: must be https/ },
    { name: 'a URL that is not http', env: { FLAGGATE_POLICY_SERVICE_URL: 'file:///etc/passwd' }, want: /policy\.service\.url/ },
  ])('rejects $name', ({ env: e, want }) => {
    expect(() => loadConfig({ env: e })).toThrow(want);
  });

  it('reads the bearer token from the environment and waits within [min, max]', () => {
    const c = loadConfig({ env: { FLAGGATE_POLICY_SERVICE_URL: 'http://127.0.0.1:1/b', FLAGGATE_POLICY_SERVICE_TOKEN: 't0ken' } });
    expect(c.policy.service).toMatchObject({ credentials: { bearer: { token: 't0ken', scheme: 'Bearer' } }, minDelaySeconds: 60, maxDelaySeconds: 120 });
    expect([pollDelayMs(c.policy.service!, () => 0), pollDelayMs(c.policy.service!, () => 1)]).toEqual([60_000, 120_000]);
  });
});

describe('fetchBundle', () => {
  it('sends the bearer credentials and If-None-Match, reads 304 as not modified, and refuses other answers with POLICY_BUNDLE_UNAVAILABLE', async () => {
    const seen: Array<{ auth: string | undefined; inm: string | undefined }> = [];
    const srv = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, inm: req.headers['if-none-match'] });
      if (req.headers.authorization !== 'Bearer s3cret') return void res.writeHead(401).end();
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
      res.writeHead(200, { etag: '"v1"' }).end(bundles.r1);
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/b.tar.gz`;
    const options = { url, minDelaySeconds: 1, maxDelaySeconds: 1, timeoutSeconds: 5 };
    try {
      const got = await fetchBundle({ ...options, credentials: { bearer: { token: 's3cret', scheme: 'Bearer' } } }, undefined);
      expect(got).toMatchObject({ etag: '"v1"', url });
      expect(sha256((got as { bytes: Buffer }).bytes)).toBe(sha256(bundles.r1));
      expect(await fetchBundle({ ...options, credentials: { bearer: { token: 's3cret', scheme: 'Bearer' } } }, '"v1"')).toBe('not-modified');
      expect(seen.slice(0, 2)).toEqual([{ auth: 'Bearer s3cret', inm: undefined }, { auth: 'Bearer s3cret', inm: '"v1"' }]);
      await expect(fetchBundle(options, undefined)).rejects.toMatchObject({ code: 'POLICY_BUNDLE_UNAVAILABLE', message: expect.stringContaining('answered 401') });
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
    await expect(fetchBundle(options, undefined)).rejects.toMatchObject({ code: 'POLICY_BUNDLE_UNAVAILABLE', message: expect.stringContaining('no answer') });
  });
});
