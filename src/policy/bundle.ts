import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { z } from 'zod';
import { FlaggateError } from '../errors.js';
import { verifyBundleSignature, type BundleSigner } from './bundle-signature.js';
import type { BundleTrust } from './bundle-trust.js';

/** The entrypoint every flaggate bundle must compile: package `flaggate.authz`, rule `decision`. */
export const DECISION_ENTRYPOINT = 'flaggate/authz/decision';

/** Size caps: a bundle is operator-supplied, but a wrong path or a hostile file must not exhaust memory. */
export const bundleLimits = {
  tarball: 16 * 1024 * 1024,
  unpacked: 64 * 1024 * 1024,
  wasm: 32 * 1024 * 1024,
  data: 8 * 1024 * 1024,
  manifest: 64 * 1024,
} as const;

const manifestSchema = z.looseObject({
  revision: z.string().min(1),
  wasm: z.array(z.looseObject({ entrypoint: z.string(), module: z.string() })).min(1),
});

/** A bundle's manifest, as far as flaggate reads it. */
export type BundleManifest = z.infer<typeof manifestSchema>;

/** The parts of an OPA bundle the engine needs, plus the tarball's digest. */
export interface PolicyBundle {
  wasm: Uint8Array;
  data: Record<string, unknown>;
  manifest: BundleManifest;
  /** The manifest's revision. */
  revision: string;
  /** SHA-256 of the tarball's bytes, hex: the very bytes that were verified and loaded. */
  sha256: string;
  /** The pinned key that signed it; absent when no verification key is configured (development). */
  signer?: BundleSigner;
}

/** How a bundle is read: with `trust`, only a bundle whose signature verifies against it loads. */
export interface ReadBundleOptions {
  trust?: BundleTrust | undefined;
  /** For key expiry; the current time by default. */
  now?: Date;
}

const wanted: Record<string, number> = { 'policy.wasm': bundleLimits.wasm, 'data.json': bundleLimits.data, '.manifest': bundleLimits.manifest };

function invalid(message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('POLICY_BUNDLE_INVALID', `policy bundle invalid: ${message}`, cause === undefined ? {} : { cause });
}

/** Reads and parses the bundle at `path`; throws POLICY_BUNDLE_INVALID when it is missing, too large or malformed. */
export async function readPolicyBundle(path: string, options: ReadBundleOptions = {}): Promise<PolicyBundle> {
  return parsePolicyBundle(await readBundleBytes(path), options);
}

/** The bytes of the bundle file at `path`, read once; POLICY_BUNDLE_INVALID when missing, not a file or too large. */
export async function readBundleBytes(path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw invalid(`${path} is not a file`);
    if (info.size > bundleLimits.tarball) throw invalid(`${path} is larger than ${bundleLimits.tarball} bytes`);
    return await readFile(path);
  } catch (err) {
    if (err instanceof FlaggateError) throw err;
    throw invalid(`cannot read ${path}`, err);
  }
}

/** Parses a gzipped OPA bundle held in memory; the same checks as `readPolicyBundle`. */
export async function parsePolicyBundle(bytes: Buffer, options: ReadBundleOptions = {}): Promise<PolicyBundle> {
  if (bytes.length > bundleLimits.tarball) throw invalid(`larger than ${bundleLimits.tarball} bytes`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const files = await untar(gunzipped(bytes));
  // Verified before anything is read from the files, on the same bytes that are then loaded.
  const signer = options.trust ? await verifyBundleSignature(files, options.trust, options.now) : undefined;

  const manifestText = files.get('.manifest');
  const wasm = files.get('policy.wasm');
  const dataText = files.get('data.json');
  if (!manifestText) throw invalid('no /.manifest');
  if (!wasm) throw invalid('no /policy.wasm');
  if (!dataText) throw invalid('no /data.json');

  const manifest = manifestSchema.safeParse(parseJson(manifestText, '.manifest'));
  if (!manifest.success) throw invalid(`/.manifest: ${manifest.error.message}`);
  const module = manifest.data.wasm.find((w) => w.entrypoint === DECISION_ENTRYPOINT)?.module;
  if (module !== '/policy.wasm') throw invalid(`/.manifest names no /policy.wasm module for ${DECISION_ENTRYPOINT}`);
  if (!isWasm(wasm)) throw invalid('/policy.wasm is not a WebAssembly module');
  const data = parseJson(dataText, 'data.json');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid('/data.json is not a JSON object');

  const bundle: PolicyBundle = { wasm, data: data as Record<string, unknown>, manifest: manifest.data, revision: manifest.data.revision, sha256 };
  if (signer) bundle.signer = signer;
  return bundle;
}

/**
 * What a bundle holds, whatever its gzip and tar framing: SHA-256 over each file's path and digest,
 * in path order. Two tarballs with the same files (one compressed again, or padded with zero blocks
 * after the tar's end) hold the same policy; a bundle service serving such variants is not serving
 * a new bundle. The signature file is one of the files.
 */
export async function bundleContentSha256(bytes: Buffer): Promise<string> {
  return contentDigest(await untar(gunzipped(bytes)));
}

/**
 * What a bundle decides with, whatever its framing, its signature or the spacing of its JSON: SHA-256
 * over the RFC 8785 form of its manifest and data as the engine takes them (JSON.stringify's text,
 * so a number beyond a double is null there as here) and the digest of its WASM module. Two bundles
 * with one policy digest decide alike, whoever signed them; a file beside the three (one left out of
 * verification) is not loaded and not counted.
 */
export async function bundlePolicySha256(bytes: Buffer): Promise<string> {
  const { manifest, data, wasm } = await parsePolicyBundle(bytes);
  const loaded = JSON.parse(JSON.stringify({ manifest, data })) as Record<string, unknown>;
  const text = canonicalize({ ...loaded, wasm: createHash('sha256').update(wasm).digest('hex') });
  if (text === undefined) throw invalid('its manifest and data have no canonical JSON form');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// The package's CommonJS default export, typed as a callable under NodeNext.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

function contentDigest(files: Map<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const name of [...files.keys()].sort()) hash.update(`${name}\0${createHash('sha256').update(files.get(name)!).digest('hex')}\n`);
  return hash.digest('hex');
}

/** The tar inside a bundle's gzip stream; bytes after the stream's end (which gunzip would pass over) are refused. */
function gunzipped(bytes: Buffer): Buffer {
  let unpacked: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    unpacked = gunzipSync(bytes, { maxOutputLength: bundleLimits.unpacked, info: true }) as unknown as typeof unpacked;
  } catch (err) {
    throw invalid('not a gzip stream within the size limit', err);
  }
  if (unpacked.engine.bytesWritten !== bytes.length) throw invalid(`${bytes.length - unpacked.engine.bytesWritten} bytes follow the end of the gzip stream`);
  return unpacked.buffer;
}

function isWasm(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
}

function parseJson(bytes: Buffer, name: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw invalid(`/${name} is not valid UTF-8 JSON`, err);
  }
}

/**
 * Collects every regular file of an uncompressed tar by its path without the leading `/`: a
 * signature covers all of them. Any warning, duplicate path, `..` segment, link or device entry,
 * or an oversize file flaggate reads is fatal; directory entries carry nothing and are skipped.
 */
async function untar(tarBytes: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let failure: FlaggateError | undefined;
  const fail = (err: FlaggateError) => {
    failure ??= err;
  };

  await new Promise<void>((resolve) => {
    const parser = new Parser({
      strict: true,
      onReadEntry(entry: ReadEntry) {
        const name = entry.path.replace(/^\.?\//, '');
        const limit = wanted[name];
        if (entry.type === 'Directory') {
          entry.resume();
          return;
        }
        if (entry.type !== 'File' && entry.type !== 'OldFile') fail(invalid(`/${name} is not a regular file`));
        else if (name === '' || name.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')) fail(invalid(`/${name} is not a plain path`));
        else if (files.has(name)) fail(invalid(`/${name} appears twice`));
        else if (limit !== undefined && (entry.size ?? 0) > limit) fail(invalid(`/${name} is larger than ${limit} bytes`));
        if (failure) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => files.set(name, Buffer.concat(chunks)));
      },
    });
    parser.on('error', (err: unknown) => fail(invalid('malformed tar archive', err)));
    parser.on('close', () => resolve());
    parser.on('end', () => resolve());
    parser.end(tarBytes);
  });
  if (failure) throw failure;
  return files;
}
