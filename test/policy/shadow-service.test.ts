/** `policy.shadow` as a URL: a candidate fetched over the bundle protocol, verified, and paused when refused. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { shadowServiceOptions } from '../../src/compose/shadow-delivery.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { makeTempDir } from '../support/temp-dir.js';
import { buildSignedBundle, ensureOpa } from './opa-bundle.js';

const decide = (allow: boolean, tag: string) => `package flaggate.authz
decision := {"allow": ${allow}, "reasons": ["${tag}"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
`;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** OPA's bundle server at its plainest: one bundle, its ETag, 304 when If-None-Match names it. */
async function startBundleServer() {
  let bundle: Buffer = Buffer.alloc(0);
  let etag = '';
  const asked: Array<string | null> = [];
  const server: Server = createServer((req, res) => {
    const inm = req.headers['if-none-match'] ?? null;
    asked.push(inm);
    if (inm === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/gzip', etag }).end(bundle);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/candidate.tar.gz`,
    asked,
    serve(bytes: Buffer) {
      bundle = bytes;
      etag = `"${sha256(bytes).slice(0, 16)}"`;
      return etag;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

type Report = { shadow: { revision: string } | null; paused: { code: string } | null; decisions: number; disagreements: Record<string, number> };

interface App extends Omit<Flaggate, 'metrics'> {
  logs: string[];
  report(): Promise<Report>;
  write(flag: string): Promise<number>;
  /** The Prometheus text. */
  metrics(): Promise<string>;
}

let tmp: ReturnType<typeof makeTempDir>;
let server: Awaited<ReturnType<typeof startBundleServer>>;
let publicFile: string;
let activeFile: string;
let bundles: { deny: Buffer; forged: Buffer; allow: Buffer };
const apps: App[] = [];

function keyFiles(name: string) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const files = { privateFile: join(tmp.dir, `${name}.pem`), publicFile: join(tmp.dir, `${name}.pub.pem`) };
  writeFileSync(files.privateFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return files;
}

function build(name: string, rego: string, privateFile: string): Buffer {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  return readFileSync(buildSignedBundle(dir, { rego, revision: name, signingKey: privateFile, alg: 'ES256' }));
}

/** flaggate in-process on the active bundle file, the candidate at `shadow`, its log lines kept. */
async function start(shadow: string): Promise<App> {
  const dataDir = join(tmp.dir, `app-${apps.length}`);
  const config = loadConfig({
    overrides: {
      dataDir, proxyPort: 0, controlPort: 0, 'drift.intervalSeconds': 0,
      'policy.bundle': activeFile, 'policy.verificationKey': publicFile, 'policy.watchIntervalMs': 3_600_000, 'policy.shadow': shadow,
    },
  });
  const logs: string[] = [];
  const app = await startFlaggate(config, { logger: createLogger({ write: (l) => logs.push(l) }) });
  const token = (sub: string, role: string) => mintDevToken({ dataDir, sub, roles: [role], clock: systemClock });
  const started: App = {
    ...app,
    logs,
    async report() {
      const res = await fetch(`${app.controlUrl}/v1/policy/shadow`, { headers: { authorization: `Bearer ${await token('ada', 'auditor')}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as Report;
    },
    async write(flag) {
      const res = await fetch(`${app.proxyUrl}/flags/${flag}/enable`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('riley', 'release_engineer')}`, 'x-flaggate-reason': 'shadow', 'x-flaggate-ticket': 'CHG-1' },
      });
      await res.arrayBuffer();
      return res.status;
    },
    metrics: () => app.metrics.registry.metrics(),
  };
  apps.push(started);
  return started;
}

beforeAll(async () => {
  ensureOpa();
  tmp = makeTempDir('flaggate-shadow-service-');
  const pinned = keyFiles('pinned');
  const attacker = keyFiles('attacker');
  publicFile = pinned.publicFile;
  activeFile = join(tmp.dir, 'active.tar.gz');
  writeFileSync(activeFile, build('active', decide(true, 'active'), pinned.privateFile));
  bundles = {
    deny: build('cand-deny', decide(false, 'cand-deny'), pinned.privateFile),
    forged: build('cand-forged', decide(false, 'cand-forged'), attacker.privateFile),
    allow: build('cand-allow', decide(true, 'cand-allow'), pinned.privateFile),
  };
  server = await startBundleServer();
}, 120_000);

afterAll(async () => {
  for (const a of apps) await a.close();
  await server?.close();
  tmp?.cleanup();
});

describe('a shadow candidate from a bundle server', () => {
  it('decides beside the active bundle; a refused candidate pauses shadow evaluation, never the active decision; a good one resumes it', async () => {
    server.serve(bundles.deny);
    const app = await start(server.url);
    expect(await app.write('checkout.new-flow')).toBe(200);
    expect(await app.report()).toMatchObject({ shadow: { revision: 'cand-deny' }, paused: null, decisions: 1, disagreements: { newly_denied: 1 } });

    // A candidate signed by a key nobody pinned: refused with its code, shadow evaluation pauses.
    const forged = server.serve(bundles.forged);
    await app.reloadPolicy();
    let metrics = await app.metrics();
    expect(metrics).toContain('flaggate_policy_shadow_bundle_refusals_total{code="POLICY_BUNDLE_SIGNATURE_INVALID"} 1');
    expect(metrics).toMatch(/^flaggate_policy_shadow_paused 1$/m);
    // Not a refusal of the active bundle: that alert stays quiet.
    expect(metrics).not.toContain('flaggate_policy_bundle_refusals_total{code=');
    expect(app.logs.join('\n')).toMatch(/shadow policy bundle refused; shadow evaluation paused.*POLICY_BUNDLE_SIGNATURE_INVALID/);
    expect(await app.write('checkout.new-flow')).toBe(200);
    expect(await app.report()).toMatchObject({ shadow: { revision: 'cand-deny' }, paused: { code: 'POLICY_BUNDLE_SIGNATURE_INVALID' }, decisions: 1, disagreements: { newly_denied: 1 } });

    // The same refused bundle is not fetched, nor counted, again: the poll names its ETag.
    await app.reloadPolicy();
    expect(server.asked.at(-1)).toBe(forged);
    expect(await app.metrics()).toContain('flaggate_policy_shadow_bundle_refusals_total{code="POLICY_BUNDLE_SIGNATURE_INVALID"} 1');

    server.serve(bundles.allow);
    await app.reloadPolicy();
    expect(await app.write('search.ranking-v2')).toBe(200);
    expect(await app.report()).toMatchObject({ shadow: { revision: 'cand-allow' }, paused: null, decisions: 2, disagreements: { newly_denied: 1, newly_allowed: 0 } });
    metrics = await app.metrics();
    expect(metrics).toMatch(/^flaggate_policy_shadow_paused 0$/m);
    expect(metrics).toContain('flaggate_policy_shadow_disagreements_total{kind="newly_denied"} 1');
    // The active bundle never moved.
    const ready = (await (await fetch(`${app.controlUrl}/readyz`)).json()) as { checks: { policy: { detail: string } } };
    expect(ready.checks.policy.detail).toBe('active');
  }, 120_000);

  it('starts paused when the first candidate is refused or the server gives none, and the active policy decides', async () => {
    server.serve(bundles.forged);
    const refused = await start(server.url);
    expect(await refused.write('checkout.new-flow')).toBe(200);
    expect(await refused.report()).toMatchObject({ shadow: null, paused: { code: 'POLICY_BUNDLE_SIGNATURE_INVALID' }, decisions: 0 });

    const down = await start('http://127.0.0.1:1/bundles/candidate.tar.gz');
    expect(await down.write('checkout.new-flow')).toBe(200);
    expect(await down.report()).toMatchObject({ shadow: null, paused: { code: 'POLICY_BUNDLE_UNAVAILABLE' }, decisions: 0 });
    expect(await down.metrics()).toMatch(/^flaggate_policy_shadow_paused 1$/m);
    expect(await down.metrics()).not.toContain('flaggate_policy_shadow_bundle_refusals_total{');
  }, 120_000);
});

describe('policy.shadow as a URL in configuration', () => {
  it('is kept as a URL (not resolved as a path), and must be https in production', () => {
    expect(loadConfig({ env: { FLAGGATE_POLICY_SHADOW: 'http://127.0.0.1:1/c.tar.gz' } }).policy.shadow).toBe('http://127.0.0.1:1/c.tar.gz');
    expect(loadConfig({ env: { FLAGGATE_POLICY_SHADOW: 'candidate.tar.gz' } }).policy.shadow).toMatch(/^\/.*candidate\.tar\.gz$/);
    expect(() => loadConfig({ env: { FLAGGATE_MODE: 'production', FLAGGATE_POLICY_SHADOW: 'http://bundles.example/c.tar.gz' } })).toThrow(/policy\.shadow: must be https/);
    expect(() => loadConfig({ env: { FLAGGATE_POLICY_SHADOW: 'https://[bad/c.tar.gz' } })).toThrow(/policy\.shadow/);
  });

  it('polls within the bundle service window and sends its credentials only to the same origin', () => {
    const service = { url: 'https://bundles.example/active.tar.gz', credentials: { bearer: { token: 't', scheme: 'Bearer' } }, minDelaySeconds: 5, maxDelaySeconds: 9, timeoutSeconds: 3 };
    expect(shadowServiceOptions('https://bundles.example/candidate.tar.gz', service)).toEqual({ ...service, url: 'https://bundles.example/candidate.tar.gz' });
    expect(shadowServiceOptions('https://elsewhere.example/candidate.tar.gz', service)).toMatchObject({ credentials: undefined, minDelaySeconds: 5, maxDelaySeconds: 9 });
    expect(shadowServiceOptions('https://elsewhere.example/c.tar.gz', undefined)).toMatchObject({ minDelaySeconds: 60, maxDelaySeconds: 120, timeoutSeconds: 30 });
  });
});
