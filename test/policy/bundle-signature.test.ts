import { createHash, createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CompactSign } from 'jose';
import { create, extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createPolicyEngine, loadBundleTrust, type BundleTrust } from '../../src/policy/index.js';
import { matchesPattern } from '../../src/policy/bundle-signature.js';
import { readPolicyBundle } from '../../src/policy/bundle.js';
import { runCli } from '../replicate/sidecar-process.js';
import { startTestFlaggate } from '../support/flaggate.js';
import { buildSignedBundle, buildTinyBundle, ensureOpa } from './opa-bundle.js';

/** A decision that allows everything: what an attacker would ship. */
const decisionRego = (allow: boolean) => `package flaggate.authz
decision := {"allow": ${allow}, "reasons": ["${allow ? 'allow-all' : 'deny-all'}"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
`;

let dir: string;
let n = 0;
const sub = () => {
  const d = join(dir, `b${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

interface KeyPair {
  privatePem: string;
  publicPem: string;
  privateFile: string;
  publicFile: string;
  privateKey: KeyObject;
}

function keyPair(kind: 'ec' | 'rsa'): KeyPair {
  const pair = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const d = sub();
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(d, 'key.pem'), privatePem);
  writeFileSync(join(d, 'pub.pem'), publicPem);
  return { privatePem, publicPem, privateFile: join(d, 'key.pem'), publicFile: join(d, 'pub.pem'), privateKey: pair.privateKey };
}

async function trustFor(verificationKey: unknown, extra: Record<string, unknown> = {}): Promise<BundleTrust> {
  const config = loadConfig({ env: {}, overrides: { 'policy.verificationKey': verificationKey, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`policy.${k}`, v])) } });
  return (await loadBundleTrust(config.policy, config.mode))!;
}

/** The files of a bundle tarball, by path without the leading slash, in tar order. */
async function unpack(bundle: string): Promise<Map<string, Buffer>> {
  const d = sub();
  await extract({ file: bundle, cwd: d });
  const names: string[] = [];
  await import('tar').then(({ list }) => list({ file: bundle, onReadEntry: (e) => names.push(e.path.replace(/^\//, '')) }));
  return new Map(names.map((name) => [name, readFileSync(join(d, name))]));
}

/** Writes `files` as a new gzipped tarball and returns its path. */
async function repack(files: Map<string, Buffer>): Promise<string> {
  const d = sub();
  const src = join(d, 'src');
  for (const [name, bytes] of files) {
    mkdirSync(dirname(join(src, name)), { recursive: true });
    writeFileSync(join(src, name), bytes);
  }
  const out = join(d, 'bundle.tar.gz');
  await create({ gzip: true, file: out, cwd: src, portable: true }, [...files.keys()]);
  return out;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const signatures = (token: string) => Buffer.from(JSON.stringify({ signatures: [token], plugin: '_default' }));

let ec: KeyPair;
let rsa: KeyPair;
let attacker: KeyPair;
let signed: string; // ES256, kid "default", by the real opa
let rotated: string; // RS256, keyid claim "k2" and scope "write", by the real opa
let unsigned: string;
let allowAllByAttacker: string; // allow-all, signed by an unpinned key under the pinned kid
let allowAllUnknownKid: string; // allow-all, signed by an unpinned key naming its own kid

beforeAll(() => {
  ensureOpa();
  dir = mkdtempSync(join(tmpdir(), 'flaggate-signed-'));
  ec = keyPair('ec');
  rsa = keyPair('rsa');
  attacker = keyPair('ec');
  const data = { limits: { ratio: 1.5, note: 'a\u2028b <&>' } };
  signed = buildSignedBundle(sub(), { rego: decisionRego(false), data, revision: 'signed-1', signingKey: ec.privateFile, alg: 'ES256' });
  rotated = buildSignedBundle(sub(), { rego: decisionRego(false), revision: 'rotated-1', signingKey: rsa.privateFile, alg: 'RS256', claims: { keyid: 'k2', scope: 'write' } });
  unsigned = buildTinyBundle(sub(), { rego: decisionRego(false), revision: 'unsigned-1' });
  allowAllByAttacker = buildSignedBundle(sub(), { rego: decisionRego(true), revision: 'evil-1', signingKey: attacker.privateFile, alg: 'ES256' });
  allowAllUnknownKid = buildSignedBundle(sub(), { rego: decisionRego(true), revision: 'evil-2', signingKey: attacker.privateFile, alg: 'ES256', claims: { keyid: 'attacker' } });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundles signed by the real opa CLI', () => {
  it('load with the pinned PEM key; the revision and sha256 are those of the verified bytes, and the signer is named', async () => {
    const engine = await createPolicyEngine({ bundlePath: signed, trust: await trustFor(ec.publicFile) });
    expect(engine.revision).toEqual({ revision: 'signed-1', sha256: createHash('sha256').update(readFileSync(signed)).digest('hex') });
    expect(engine.signer).toEqual({ keyId: 'default', algorithm: 'ES256' });
  });

  it('load through a JWKS of several keys (rotation): the payload keyid picks the key, the scope must match', async () => {
    const jwks = join(sub(), 'keys.json');
    const jwk = (p: KeyPair, kid: string, alg: string) => ({ ...p.privateKey.export({ format: 'jwk' }), d: undefined, p: undefined, q: undefined, dp: undefined, dq: undefined, qi: undefined, kid, alg, use: 'sig' });
    writeFileSync(jwks, JSON.stringify({ keys: [jwk(ec, 'default', 'ES256'), { ...jwk(rsa, 'k2', 'RS256'), scope: undefined }] }));
    const trust = await trustFor(jwks, { verificationScope: 'write' });
    await expect(readPolicyBundle(rotated, { trust })).resolves.toMatchObject({ revision: 'rotated-1', signer: { keyId: 'k2', scope: 'write' } });
    // The same keys without the scope: the signature claims "write", so it is refused.
    await expect(readPolicyBundle(rotated, { trust: await trustFor(jwks) })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_SIGNATURE_INVALID', message: expect.stringContaining('scope') });
  });

  it('verify even when data.json is reformatted, as OPA hashes structured files over their parsed form', async () => {
    const files = await unpack(signed);
    files.set('data.json', Buffer.from(JSON.stringify(JSON.parse(files.get('data.json')!.toString()), null, 4)));
    await expect(readPolicyBundle(await repack(files), { trust: await trustFor(ec.publicFile) })).resolves.toMatchObject({ revision: 'signed-1' });
  });
});

describe('refusals, each with its own code', () => {
  const cases: Array<{ name: string; code: string; make: () => Promise<string> | string; key?: () => string }> = [
    { name: 'an unsigned bundle', code: 'POLICY_BUNDLE_UNSIGNED', make: () => unsigned },
    {
      name: 'data.json changed after signing',
      code: 'POLICY_BUNDLE_DIGEST_MISMATCH',
      make: async () => {
        const files = await unpack(signed);
        files.set('data.json', Buffer.from(JSON.stringify({ limits: { ratio: 1.6, note: 'a\u2028b <&>' } })));
        return repack(files);
      },
    },
    {
      name: 'policy.wasm swapped for an allow-all one',
      code: 'POLICY_BUNDLE_DIGEST_MISMATCH',
      make: async () => {
        const files = await unpack(signed);
        files.set('policy.wasm', (await unpack(allowAllByAttacker)).get('policy.wasm')!);
        return repack(files);
      },
    },
    {
      name: 'a file added after signing',
      code: 'POLICY_BUNDLE_FILE_UNSIGNED',
      make: async () => repack(new Map([...(await unpack(signed)), ['extra.rego', Buffer.from('package x\n')]])),
    },
    {
      name: 'a signed file removed',
      code: 'POLICY_BUNDLE_FILE_MISSING',
      make: async () => {
        const files = await unpack(signed);
        files.delete('policy.rego');
        return repack(files);
      },
    },
    { name: 'an allow-all bundle signed by another key under the pinned key id', code: 'POLICY_BUNDLE_SIGNATURE_INVALID', make: () => allowAllByAttacker },
    { name: 'an allow-all bundle signed by a key id nobody pinned', code: 'POLICY_BUNDLE_KEY_UNKNOWN', make: () => allowAllUnknownKid },
    {
      name: 'a token with alg none',
      code: 'POLICY_BUNDLE_ALG_NOT_ALLOWED',
      make: async () => {
        const files = await unpack(signed);
        const payload = (await unpack(signed)).get('.signatures.json')!.toString();
        const claims = JSON.parse(payload).signatures[0].split('.')[1];
        files.set('.signatures.json', signatures(`${b64({ alg: 'none', kid: 'default' })}.${claims}.`));
        return repack(files);
      },
    },
    {
      name: 'an HS256 token keyed with the public key PEM (algorithm confusion)',
      code: 'POLICY_BUNDLE_ALG_NOT_ALLOWED',
      make: async () => {
        const files = await unpack(signed);
        const claims = JSON.parse(files.get('.signatures.json')!.toString()).signatures[0].split('.')[1];
        const input = `${b64({ alg: 'HS256', kid: 'default' })}.${claims}`;
        const mac = createHmac('sha256', ec.publicPem).update(input).digest('base64url');
        files.set('.signatures.json', signatures(`${input}.${mac}`));
        return repack(files);
      },
    },
    {
      name: 'a file digested with MD5, signed by the pinned key',
      code: 'POLICY_BUNDLE_ALG_NOT_ALLOWED',
      make: async () => {
        const files = await unpack(signed);
        const claims = JSON.parse(Buffer.from(JSON.parse(files.get('.signatures.json')!.toString()).signatures[0].split('.')[1], 'base64url').toString());
        claims.files[0] = { ...claims.files[0], algorithm: 'MD5', hash: createHash('md5').update(files.get(claims.files[0].name)!).digest('hex') };
        const token = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', kid: 'default' }).sign(ec.privateKey);
        files.set('.signatures.json', signatures(token));
        return repack(files);
      },
    },
    {
      name: 'two signatures',
      code: 'POLICY_BUNDLE_SIGNATURE_INVALID',
      make: async () => {
        const files = await unpack(signed);
        const token = JSON.parse(files.get('.signatures.json')!.toString()).signatures[0];
        files.set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [token, token] })));
        return repack(files);
      },
    },
  ];

  it.each(cases)('$name: $code', async ({ make, code }) => {
    const trust = await trustFor(ec.publicFile);
    await expect(readPolicyBundle(await make(), { trust })).rejects.toMatchObject({ code });
  });

  it('a key past its notAfter: POLICY_BUNDLE_KEY_EXPIRED', async () => {
    const trust = await trustFor([{ file: ec.publicFile, keyId: 'default', notAfter: '2020-01-01T00:00:00Z' }]);
    await expect(readPolicyBundle(signed, { trust })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_KEY_EXPIRED' });
  });

  it('a key pinned to another algorithm than the signature uses: POLICY_BUNDLE_ALG_NOT_ALLOWED', async () => {
    const trust = await trustFor([{ file: rsa.publicFile, keyId: 'k2', algorithm: 'PS256' }], { verificationScope: 'write' });
    await expect(readPolicyBundle(rotated, { trust })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_ALG_NOT_ALLOWED' });
  });

  it('excluded paths may be unsigned, but never the files flaggate loads', async () => {
    const files = await unpack(signed);
    files.set('notes/readme.txt', Buffer.from('unsigned notes'));
    const trust = await trustFor(ec.publicFile, { verificationExclude: ['notes/*'] });
    await expect(readPolicyBundle(await repack(files), { trust })).resolves.toMatchObject({ revision: 'signed-1' });
    files.set('data.json', Buffer.from('{"limits":{}}'));
    const loose = await trustFor(ec.publicFile, { verificationExclude: ['notes/*', '*.json'] });
    await expect(readPolicyBundle(await repack(files), { trust: loose })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_DIGEST_MISMATCH' });
  });
});

describe('the engine with a pinned key', () => {
  it('refuses to start on an unsigned bundle, and on reload keeps the running bundle when a tampered one replaces it', async () => {
    const trust = await trustFor(ec.publicFile);
    await expect(createPolicyEngine({ bundlePath: unsigned, trust })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_UNSIGNED' });

    const path = join(sub(), 'live.tar.gz');
    writeFileSync(path, readFileSync(signed));
    const engine = await createPolicyEngine({ bundlePath: path, trust });
    const before = engine.revision;
    writeFileSync(path, readFileSync(allowAllByAttacker));
    await expect(engine.reload()).rejects.toMatchObject({ code: 'POLICY_BUNDLE_SIGNATURE_INVALID' });
    expect(engine.revision).toEqual(before);
    const probe = { actor: { id: 'a', displayName: 'a', authMethod: 'dev-token' as const, roles: [] }, change: { action: 'flag.update' }, approvals: [], context: { links: {}, timeUtc: '2025-01-01T00:00:00Z' } };
    expect(engine.decide(probe).allow).toBe(false);
  });

  it('without a key, development loads an unsigned bundle; production refuses to start with CONFIG_INVALID', async () => {
    const dev = loadConfig({ env: {} });
    expect(await loadBundleTrust(dev.policy, 'development')).toBeUndefined();
    await expect(loadBundleTrust(dev.policy, 'production')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('policy.verificationKey') });
  });
});

describe('the sidecar with a pinned key', () => {
  it('does not start on an unsigned bundle; a forged bundle on reload is refused, counted by code, and the running one stays', async () => {
    await expect(startTestFlaggate({ 'policy.bundle': unsigned, 'policy.verificationKey': ec.publicFile })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_UNSIGNED' });

    const path = join(sub(), 'live.tar.gz');
    writeFileSync(path, readFileSync(signed));
    const app = await startTestFlaggate({ 'policy.bundle': path, 'policy.verificationKey': ec.publicFile, 'policy.watchIntervalMs': 3_600_000 });
    try {
      writeFileSync(path, readFileSync(allowAllUnknownKid));
      await app.reloadPolicy();
      const metrics = await app.metrics.registry.metrics();
      expect(metrics).toContain('flaggate_policy_bundle_refusals_total{code="POLICY_BUNDLE_KEY_UNKNOWN"} 1');
      const ready = (await (await fetch(`${app.controlUrl}/readyz`)).json()) as Record<string, unknown>;
      expect(JSON.stringify(ready)).toContain('signed-1');
    } finally {
      await app.stop();
    }
  });
});

describe('flaggate policy verify', () => {
  it('prints the verified revision, digest and signer (exit 0), and the refusal code for a forged bundle (exit 1)', async () => {
    const ok = await runCli(['policy', 'verify', signed, '--key', ec.publicFile]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ ok: true, revision: 'signed-1', sha256: createHash('sha256').update(readFileSync(signed)).digest('hex'), signer: { keyId: 'default', algorithm: 'ES256' } });
    const refused = await runCli(['policy', 'verify', allowAllByAttacker, '--key', ec.publicFile]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, code: 'POLICY_BUNDLE_SIGNATURE_INVALID' });
  });
});

describe('pinned keys', () => {
  it.each([
    { name: 'a private key PEM', file: () => ec.privateFile, why: /private key/ },
    { name: 'a JWKS with a symmetric key', file: () => writeJwks({ kty: 'oct', k: 'c2VjcmV0', kid: 'h', alg: 'HS256' }), why: /"alg" must be one of/ },
    { name: 'a JWKS key without alg', file: () => writeJwks({ ...ec.privateKey.export({ format: 'jwk' }), d: undefined, kid: 'x' }), why: /"alg"/ },
    { name: 'a JWKS key with its private part', file: () => writeJwks({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'x', alg: 'ES256' }), why: /only public keys/ },
  ])('refuses $name with CONFIG_INVALID', async ({ file, why }) => {
    await expect(trustFor(file())).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(why) });
  });

  it('reads FLAGGATE_POLICY_VERIFICATION_KEY as a comma-separated list of files', () => {
    const config = loadConfig({ env: { FLAGGATE_POLICY_VERIFICATION_KEY: `${ec.publicFile}, ${rsa.publicFile}` } });
    expect(config.policy.verificationKey).toEqual([ec.publicFile, rsa.publicFile]);
  });
});

describe('matchesPattern (Go filepath.Match)', () => {
  it.each([
    ['*.json', 'data.json', true],
    ['*.json', 'a/data.json', false],
    ['notes/*', 'notes/a.txt', true],
    ['notes/?.txt', 'notes/a.txt', true],
    ['[a-c].txt', 'b.txt', true],
    ['[^a-c].txt', 'b.txt', false],
    ['a.b', 'axb', false],
  ])('%s vs %s: %s', (pattern, path, want) => {
    expect(matchesPattern(pattern, path)).toBe(want);
  });
});

function writeJwks(key: unknown): string {
  const file = join(sub(), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [key] }));
  return file;
}
