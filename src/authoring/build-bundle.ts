import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { bundleSignatureAlgorithms } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import { createPolicyEngine, readBundleBytes, type BundleSigner, type BundleTrust, type PolicyEngine } from '../policy/index.js';
import { runOpa } from './opa.js';

const ENTRYPOINT = 'flaggate/authz/decision';

export interface BuildOptions {
  /** Policy folders, merged: every non-test `.rego` and every `data.json` (at its folder's data path). */
  policies: string[];
  out: string;
  /** Default: `sha256:` over the sources' names and bytes, so it changes whenever a source does. */
  revision?: string;
  signingKey?: string;
  signingAlg?: string;
  /** The `keyid` claim; `default` (OPA's) unless given. */
  keyId?: string;
  opa: string[];
}

export interface BuiltBundle {
  out: string;
  revision: string;
  sha256: string;
  signer?: BundleSigner;
  /** The loaded bundle, as the sidecar would run it. */
  engine: PolicyEngine;
}

type Json = Record<string, unknown>;

function buildFailed(message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('POLICY_BUNDLE_INVALID', `policy build: ${message}`, cause === undefined ? {} : { cause });
}

/** Every file under `dir`, as sorted POSIX paths relative to it. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<{ name: string; parentPath: string; isFile(): boolean }>)
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** Merges `value` into `into` at `path`; two folders giving the same key a different non-object value is an error, not a silent winner. */
function mergeAt(into: Json, path: string[], value: Json, where: string): void {
  let node = into;
  path.forEach((key, i) => {
    if (node[key] !== undefined && !isObject(node[key])) throw buildFailed(`data key ${path.slice(0, i + 1).join('.')} is set twice (${where})`);
    node = (node[key] ??= {}) as Json;
  });
  for (const [key, v] of Object.entries(value)) {
    const have = node[key];
    if (have === undefined) node[key] = v;
    else if (isObject(have) && isObject(v)) mergeAt(into, [...path, key], v, where);
    else if (JSON.stringify(have) !== JSON.stringify(v)) throw buildFailed(`data key ${[...path, key].join('.')} is set twice (${where})`);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One folder holding the build's sources: each policy folder's modules under `<n>/`, and one root
 * data.json merged from theirs. Bundle mode (which signing needs) gives each folder's data.json the
 * data path of where it sits, and several bundle roots cannot share the root: staging allows both.
 */
function stage(policies: string[]): { dir: string; revision: string } {
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-policy-build-'));
  const data: Json = {};
  const hash = createHash('sha256');
  policies.forEach((source, n) => {
    for (const file of filesUnder(source)) {
      const bytes = readFileSync(join(source, file));
      if (file.endsWith('.rego') && !file.endsWith('_test.rego')) {
        mkdirSync(join(dir, String(n), file, '..'), { recursive: true });
        cpSync(join(source, file), join(dir, String(n), file));
      } else if (file === 'data.json' || file.endsWith('/data.json')) {
        let json: unknown;
        try {
          json = JSON.parse(bytes.toString('utf8'));
        } catch (err) {
          throw buildFailed(`${join(source, file)} is not JSON`, err);
        }
        if (!isObject(json)) throw buildFailed(`${join(source, file)} is not a JSON object`);
        mergeAt(data, file.split('/').slice(0, -1), json, join(source, file));
      } else continue;
      hash.update(`${n}/${file}\0${bytes.length}\0`).update(bytes);
    }
  });
  writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
  return { dir, revision: `sha256:${hash.digest('hex')}` };
}

/**
 * `flaggate policy build`: `opa build -b` (WASM, the flaggate entrypoint) over the merged policy
 * folders, signed with `--signing-key` when one is given; then the bundle is read back exactly as
 * the sidecar reads it (with the signing key's public half pinned) and must load and decide.
 */
export async function buildPolicyBundle(o: BuildOptions): Promise<BuiltBundle> {
  const staged = stage(o.policies.map((p) => resolve(p)));
  const revision = o.revision ?? staged.revision;
  const out = resolve(o.out);
  const scratch = mkdtempSync(join(tmpdir(), 'flaggate-policy-claims-'));
  try {
    const signing = o.signingKey ? signingArgs(o, scratch) : [];
    const args = ['build', '-b', '.', '-t', 'wasm', '-e', ENTRYPOINT, '--revision', revision, '-o', out, ...signing];
    const built = await runOpa(o.opa, args, staged.dir);
    if (built.code !== 0) throw buildFailed(`opa build failed: ${built.stderr.trim() || built.stdout.trim()}`);
  } finally {
    rmSync(staged.dir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  const trust = o.signingKey ? trustOf(o) : undefined;
  const engine = await createPolicyEngine({ bundleBytes: await readBundleBytes(out), trust });
  return { out, revision: engine.revision.revision, sha256: engine.revision.sha256, ...(engine.signer ? { signer: engine.signer } : {}), engine };
}

function signingArgs(o: BuildOptions, scratch: string): string[] {
  const alg = o.signingAlg ?? 'RS256';
  if (!(bundleSignatureAlgorithms as readonly string[]).includes(alg)) throw buildFailed(`--signing-alg must be one of ${bundleSignatureAlgorithms.join(', ')}`);
  const args = ['--signing-key', resolve(o.signingKey!), '--signing-alg', alg];
  if (o.keyId) {
    const claims = join(scratch, 'claims.json');
    writeFileSync(claims, JSON.stringify({ keyid: o.keyId }));
    args.push('--claims-file', claims);
  }
  return args;
}

/** The signing key's public half, pinned as the sidecar would pin it. */
function trustOf(o: BuildOptions): BundleTrust {
  const key = createPublicKey(createPrivateKey(readFileSync(resolve(o.signingKey!))));
  const keyId = o.keyId ?? 'default';
  const algorithm = (o.signingAlg ?? 'RS256') as (typeof bundleSignatureAlgorithms)[number];
  return { keys: new Map([[keyId, { keyId, algorithm, key }]]), exclude: [] };
}
