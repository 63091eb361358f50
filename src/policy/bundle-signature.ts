import { compactVerify } from 'jose';
import { z } from 'zod';
import { FlaggateError, type ErrorCode } from '../errors.js';
import type { BundleTrust } from './bundle-trust.js';
import { bundleSignatureAlgorithms } from '../config/index.js';
import { digestBundleFile, isFileDigestAlgorithm } from './opa-file-digest.js';

/** Where OPA keeps a bundle's signatures. */
export const SIGNATURES_FILE = '.signatures.json';

/** The files flaggate reads: verified even when an exclude pattern names them. */
const LOADED_FILES = new Set(['.manifest', 'policy.wasm', 'data.json']);

/** What a verified signature vouches for. */
export interface BundleSigner {
  keyId: string;
  algorithm: string;
  scope?: string;
}

const signaturesSchema = z.strictObject({
  signatures: z.array(z.string()),
  plugin: z.string().optional(),
});

const payloadSchema = z.looseObject({
  files: z.array(z.strictObject({ name: z.string().min(1), hash: z.string().regex(/^[0-9a-f]+$/), algorithm: z.string() })),
  keyid: z.string().optional(),
  scope: z.string().optional(),
});

function refuse(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): FlaggateError {
  return new FlaggateError(code, `policy bundle refused: ${message}`, { details, ...(cause === undefined ? {} : { cause }) });
}

function decodeJson(part: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (err) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `the signature's ${what} is not base64url JSON`, {}, err);
  }
}

/** Go's `filepath.Match` on `/`-separated paths: `*` and `?` stop at `/`, `[...]` classes with `^` negation. */
export function matchesPattern(pattern: string, path: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]!}`;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false; // a malformed pattern matches nothing, as Go's error does
      const body = pattern.slice(i + 1, end).replace(/^\^/, '');
      re += `[${pattern[i + 1] === '^' ? '^/' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|/\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u').test(path);
}

/**
 * Verifies a bundle's `.signatures.json` as OPA's default verifier does, and more strictly where
 * OPA would accept less: exactly one JWS; its key found by the header `kid` (else the payload's
 * `keyid`) among the pinned keys; the key's own algorithm, never the header's choice, from the
 * allowlist; the signature; the scope; then every file of the bundle listed in the payload with
 * a matching digest (OPA's structured digest for data and manifest), no file listed and absent,
 * no file present and unlisted, excluded paths honoured except for the files flaggate loads.
 * Each failure has its own code; `files` maps bundle paths (no leading slash) to their bytes.
 */
export async function verifyBundleSignature(files: ReadonlyMap<string, Buffer>, trust: BundleTrust, now: Date = new Date()): Promise<BundleSigner> {
  const token = readSignatureToken(files);
  const parts = token.split('.');
  if (parts.length !== 3) throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', 'the signature is not a compact JWS');
  const header = decodeJson(parts[0]!, 'header') as Record<string, unknown> | null;
  const claimed = decodeJson(parts[1]!, 'payload') as Record<string, unknown> | null;
  const alg = header?.alg;
  if (typeof alg !== 'string' || !(bundleSignatureAlgorithms as readonly string[]).includes(alg)) {
    throw refuse('POLICY_BUNDLE_ALG_NOT_ALLOWED', `signature algorithm ${JSON.stringify(alg)} is not allowed`, { alg });
  }
  const keyId = typeof header?.kid === 'string' && header.kid !== '' ? header.kid : typeof claimed?.keyid === 'string' ? claimed.keyid : '';
  const key = trust.keys.get(keyId);
  if (!key) throw refuse('POLICY_BUNDLE_KEY_UNKNOWN', `no pinned key has id ${JSON.stringify(keyId)}`, { keyId });
  if (key.notAfter && now.getTime() > key.notAfter.getTime()) {
    throw refuse('POLICY_BUNDLE_KEY_EXPIRED', `key ${keyId} expired at ${key.notAfter.toISOString()}`, { keyId, notAfter: key.notAfter.toISOString() });
  }
  if (alg !== key.algorithm) {
    throw refuse('POLICY_BUNDLE_ALG_NOT_ALLOWED', `signed with ${alg}, but key ${keyId} is pinned to ${key.algorithm}`, { keyId, alg, pinned: key.algorithm });
  }
  let verified: Uint8Array;
  try {
    ({ payload: verified } = await compactVerify(token, key.key, { algorithms: [key.algorithm] }));
  } catch (err) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `the signature does not verify with key ${keyId}`, { keyId }, err);
  }
  // Only the verified bytes are read from here on.
  let payload: z.infer<typeof payloadSchema>;
  try {
    payload = payloadSchema.parse(JSON.parse(Buffer.from(verified).toString('utf8')));
  } catch (err) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', 'the signed payload is malformed', { keyId }, err);
  }
  const scope = trust.scope ?? key.scope ?? '';
  if ((payload.scope ?? '') !== scope) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `scope ${JSON.stringify(payload.scope ?? '')} does not match ${JSON.stringify(scope)}`, { keyId });
  }

  checkSignedFiles(files, payload.files, trust.exclude, keyId);
  return { keyId, algorithm: key.algorithm, ...(scope ? { scope } : {}) };
}

/** The one compact JWS of `/.signatures.json`; refusals for a missing, malformed or foreign file. */
function readSignatureToken(files: ReadonlyMap<string, Buffer>): string {
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) throw refuse('POLICY_BUNDLE_UNSIGNED', `no /${SIGNATURES_FILE}, and a verification key is configured`);
  let parsed: z.infer<typeof signaturesSchema>;
  try {
    parsed = signaturesSchema.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)));
  } catch (err) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `/${SIGNATURES_FILE} is malformed`, {}, err);
  }
  if (parsed.plugin !== undefined && parsed.plugin !== '' && parsed.plugin !== '_default') {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `signature plugin ${JSON.stringify(parsed.plugin)} is not supported`);
  }
  if (parsed.signatures.length !== 1) {
    throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `expected exactly one signature, found ${parsed.signatures.length}`);
  }
  return parsed.signatures[0]!;
}

/**
 * Every file of the bundle listed in the signed payload with a matching digest (OPA's structured
 * digest for data and manifest), no file listed and absent, no file present and unlisted; excluded
 * paths are honoured except for the files flaggate loads.
 */
function checkSignedFiles(files: ReadonlyMap<string, Buffer>, signedFiles: ReadonlyArray<{ name: string; hash: string; algorithm: string }>, exclude: readonly string[], keyId: string): void {
  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const f of signedFiles) {
    const name = f.name.replace(/^\//, '');
    if (listed.has(name)) throw refuse('POLICY_BUNDLE_SIGNATURE_INVALID', `/${name} is listed twice in the signature`, { keyId });
    listed.set(name, f);
  }
  for (const [path, bytes] of files) {
    if (path === SIGNATURES_FILE) continue;
    const signed = listed.get(path);
    listed.delete(path);
    if (!LOADED_FILES.has(path) && exclude.some((p) => matchesPattern(p, path))) continue;
    if (!signed) throw refuse('POLICY_BUNDLE_FILE_UNSIGNED', `/${path} is not in the signature`, { keyId, file: path });
    if (!isFileDigestAlgorithm(signed.algorithm)) {
      throw refuse('POLICY_BUNDLE_ALG_NOT_ALLOWED', `/${path}: digest algorithm ${JSON.stringify(signed.algorithm)} is not allowed`, { keyId, file: path });
    }
    let actual: string;
    try {
      actual = digestBundleFile(path, bytes, signed.algorithm);
    } catch (err) {
      throw refuse('POLICY_BUNDLE_DIGEST_MISMATCH', `/${path} cannot be digested: ${(err as Error).message}`, { keyId, file: path }, err);
    }
    if (actual !== signed.hash) {
      throw refuse('POLICY_BUNDLE_DIGEST_MISMATCH', `/${path} changed after signing`, { keyId, file: path, signed: signed.hash, actual });
    }
  }
  // As OPA: a listed file must be present even when excluded (exclusion only skips a present file's digest).
  const missing = [...listed.keys()];
  if (missing.length > 0) {
    throw refuse('POLICY_BUNDLE_FILE_MISSING', `signed file(s) absent from the bundle: ${missing.map((m) => `/${m}`).join(', ')}`, { keyId, files: missing });
  }
}
