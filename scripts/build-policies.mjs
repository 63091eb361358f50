#!/usr/bin/env node
// Builds bundles/flaggate.tar.gz (OPA bundle, WASM target) from policies/, or checks that it is fresh.
//
//   node scripts/build-policies.mjs                  build
//   node scripts/build-policies.mjs --check          exit 1 when the bundle is stale, missing or unreadable
//   options: --policies DIR  --bundle FILE           (defaults: policies/ and bundles/flaggate.tar.gz)
//            --signing-key FILE --signing-alg ALG     sign with this private key (default: FLAGGATE_POLICY_SIGNING_KEY,
//                                                     else a development RSA key made on first use in .dev-keys/,
//                                                     kept out of git; FLAGGATE_POLICY_SIGNING_ALG, else RS256)
//            --no-sign                                build an unsigned bundle
//
// Signing is `opa build --signing-key`: a /.signatures.json that OPA and flaggate verify against the
// public key (flaggate: policy.verificationKey). A production bundle is signed in CI with the
// production key; the development key only proves the signing path works end to end.
//
// The revision is `sha256:` + a hash over the sorted source files' names and bytes, so it changes
// whenever any policy or data file changes. `opa build` writes fixed mtimes and sorted entries, so its
// output is byte-reproducible for a given opa version: --check also rebuilds and compares the unpacked
// tar bytes (not the gzip layer, which could vary with the Go toolchain that built opa).
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from 'tar';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRYPOINT = 'flaggate/authz/decision';
const MAX_MANIFEST_BYTES = 64 * 1024;
const SIGNATURES = '.signatures.json';
const DEV_KEY = join(root, '.dev-keys', 'policy-signing.pem');

function parseArgs(argv) {
  const opts = {
    check: false,
    policies: join(root, 'policies'),
    bundle: join(root, 'bundles', 'flaggate.tar.gz'),
    signingKey: process.env.FLAGGATE_POLICY_SIGNING_KEY || undefined,
    signingAlg: process.env.FLAGGATE_POLICY_SIGNING_ALG || 'RS256',
    sign: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') opts.check = true;
    else if (arg === '--no-sign') opts.sign = false;
    else if (arg === '--policies' || arg === '--bundle' || arg === '--signing-key' || arg === '--signing-alg') {
      const value = argv[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      const key = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
      opts[key] = key === 'signingAlg' ? value : resolve(value);
    } else throw new Error(`unknown argument: ${arg}`);
  }
  return opts;
}

/** Policy sources (non-test .rego) and data files, as sorted POSIX paths relative to `dir`. */
export function sourceFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile() && isSource(ent.name)) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

function isSource(name) {
  return (name.endsWith('.rego') && !name.endsWith('_test.rego')) || name === 'data.json';
}

/** `sha256:<hex>` over each file's name, length and bytes, in sorted order (length-framed, so unambiguous). */
export function contentRevision(dir, files) {
  const h = createHash('sha256');
  for (const f of files) {
    const bytes = readFileSync(join(dir, f));
    h.update(`${f}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return `sha256:${h.digest('hex')}`;
}

/** The development signing key, made on first use (RSA, so RS256 signatures are deterministic). */
function devSigningKey() {
  if (!existsSync(DEV_KEY)) {
    mkdirSync(dirname(DEV_KEY), { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    writeFileSync(DEV_KEY, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(DEV_KEY.replace(/\.pem$/, '.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    console.log(`made a development signing key: ${relative(process.cwd(), DEV_KEY)} (public: .pub.pem beside it)`);
  }
  return DEV_KEY;
}

function opaBuild(policiesDir, files, revision, outFile, signing) {
  const opaSh = join(root, 'scripts', 'opa.sh');
  // Signing needs bundle mode (-b .). Relative names keep the bundle's file paths (and so its bytes)
  // independent of where policies/ lives; without signing, the sources are named one by one.
  const sources = signing ? ['-b', '.', '--ignore', '*_test.rego', '--signing-key', signing.key, '--signing-alg', signing.alg] : files;
  execFileSync(
    'bash',
    [opaSh, 'build', '-t', 'wasm', '-e', ENTRYPOINT, '--revision', revision, '-o', outFile, ...sources],
    { cwd: policiesDir, stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

/** A tarball's entries other than the signature, as name -> bytes: what --check compares (signatures differ by key). */
async function unsignedEntries(bundleFile) {
  const entries = new Map();
  await new Promise((resolvePromise, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry(entry) {
        const name = entry.path.replace(/^\.?\//, '');
        const chunks = [];
        entry.on('data', (c) => chunks.push(c));
        entry.on('end', () => {
          if (name !== SIGNATURES) entries.set(name, Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', reject);
    parser.on('end', resolvePromise);
    parser.end(readFileSync(bundleFile));
  });
  return entries;
}

function sameEntries(a, b) {
  return a.size === b.size && [...a].every(([name, bytes]) => b.has(name) && b.get(name).equals(bytes));
}

/** Reads `.manifest` out of a bundle tarball; throws when it is missing or unreadable. */
async function readManifest(bundleFile) {
  const bytes = readFileSync(bundleFile);
  let manifest;
  await new Promise((resolvePromise, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry(entry) {
        if (entry.path.replace(/^\.?\//, '') !== '.manifest' || entry.size > MAX_MANIFEST_BYTES) {
          entry.resume();
          return;
        }
        const chunks = [];
        entry.on('data', (c) => chunks.push(c));
        entry.on('end', () => {
          manifest = Buffer.concat(chunks).toString('utf8');
        });
      },
    });
    parser.on('error', reject);
    parser.on('end', resolvePromise);
    parser.end(bytes);
  });
  if (manifest === undefined) throw new Error('no .manifest in bundle');
  return JSON.parse(manifest);
}

async function check(opts, files, revision) {
  const rel = relative(process.cwd(), opts.bundle) || opts.bundle;
  const stale = (why) => {
    console.error(`bundles/ is stale against policies/: run npm run build:policies (${rel}: ${why})`);
    process.exit(1);
  };
  let manifest;
  try {
    manifest = await readManifest(opts.bundle);
  } catch (err) {
    return stale(`missing or unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (manifest.revision !== revision) return stale(`revision ${manifest.revision} != ${revision}`);
  const tmp = mkdtempSync(join(tmpdir(), 'flaggate-bundle-'));
  try {
    const fresh = join(tmp, 'fresh.tar.gz');
    opaBuild(opts.policies, files, revision, fresh, undefined);
    if (!sameEntries(await unsignedEntries(fresh), await unsignedEntries(opts.bundle))) {
      return stale('contents differ from a fresh build');
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`${rel} is fresh (${revision})`);
}

function build(opts, files, revision) {
  mkdirSync(dirname(opts.bundle), { recursive: true });
  const tmp = `${opts.bundle}.tmp-${process.pid}`;
  const signing = opts.sign ? { key: opts.signingKey ?? devSigningKey(), alg: opts.signingAlg } : undefined;
  try {
    opaBuild(opts.policies, files, revision, tmp, signing);
    renameSync(tmp, opts.bundle);
  } finally {
    if (existsSync(tmp)) rmSync(tmp);
  }
  console.log(`built ${relative(process.cwd(), opts.bundle) || opts.bundle} (${revision}${signing ? `, signed ${signing.alg}` : ', unsigned'})`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const files = sourceFiles(opts.policies);
  if (!files.includes('data.json') || !files.some((f) => f.endsWith('.rego'))) {
    throw new Error(`${opts.policies} holds no policy sources (.rego and data.json)`);
  }
  const revision = contentRevision(opts.policies, files);
  if (opts.check) await check(opts, files, revision);
  else build(opts, files, revision);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`build-policies: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
