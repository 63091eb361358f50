import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JSONWebKeySet, JWK } from 'jose';
import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';

/** The development issuer's key material: its public set, the signing key and the key's `kid`. */
export interface DevIssuer {
  jwks: JSONWebKeySet;
  privateKey: CryptoKey;
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
}

const ALG = 'EdDSA';
const DIR = 'dev-issuer';
const PRIVATE_FILE = 'private.jwk.json';
const JWKS_FILE = 'jwks.json';
/** Public halves of earlier keys, newest first: tokens they signed verify until they expire. */
const RETIRED_FILE = 'retired.jwks.json';

/**
 * The development issuer in `<dataDir>/dev-issuer/`: loads its Ed25519 key, creating it on first use
 * (mode 0600, never overwriting an existing key), and keeps `jwks.json` in step with it.
 */
export async function ensureDevIssuer(dataDir: string): Promise<DevIssuer> {
  const dir = join(dataDir, DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, PRIVATE_FILE);
  const jwk = parsePrivateJwk((await readExisting(keyPath)) ?? (await createKey(keyPath)), keyPath);

  // The kid is recomputed from the key, never read from the file.
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid, alg: ALG, use: 'sig' };
  const retired = (await readRetired(dir)).filter((k) => k.kid !== kid);
  const jwks: JSONWebKeySet = { keys: [publicJwk, ...retired] };
  await writeIfChanged(join(dir, JWKS_FILE), `${JSON.stringify(jwks, null, 2)}\n`);

  const privateKey = await importJWK({ ...jwk, kid, alg: ALG }, ALG);
  if (privateKey instanceof Uint8Array) throw new TypeError('expected an asymmetric key');
  return { jwks, privateKey, kid };
}

/**
 * Replaces the development issuer's key with a new one; the old public key moves to
 * `retired.jwks.json` (written first, so a crash never loses it) and stays in the served set.
 * Returns both kids; `previous` is null when there was no key yet.
 */
export async function rotateDevIssuer(dataDir: string): Promise<{ previous: string | null; current: string }> {
  const dir = join(dataDir, DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, PRIVATE_FILE);
  const existing = await readExisting(keyPath);
  let previous: string | null = null;
  if (existing !== undefined) {
    const old = parsePrivateJwk(existing, keyPath);
    previous = await calculateJwkThumbprint({ kty: old.kty, crv: old.crv, x: old.x });
    const retired = (await readRetired(dir)).filter((k) => k.kid !== previous);
    const entry: JWK = { kty: old.kty, crv: old.crv, x: old.x, kid: previous, alg: ALG, use: 'sig' };
    await replaceFile(join(dir, RETIRED_FILE), `${JSON.stringify({ keys: [entry, ...retired] }, null, 2)}\n`, 0o644);
  }
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  await replaceFile(keyPath, `${JSON.stringify(await exportJWK(privateKey))}\n`, 0o600);
  return { previous, current: (await ensureDevIssuer(dataDir)).kid };
}

async function readRetired(dir: string): Promise<JWK[]> {
  const text = await readExisting(join(dir, RETIRED_FILE));
  if (text === undefined) return [];
  const parsed = JSON.parse(text) as { keys?: JWK[] };
  if (!Array.isArray(parsed.keys) || parsed.keys.some((k) => typeof k !== 'object' || k === null || 'd' in k)) {
    throw new FlaggateError('CONFIG_INVALID', 'the retired development keys are not a public JWKS', { details: { path: join(dir, RETIRED_FILE) } });
  }
  return parsed.keys;
}

/** Options for {@link mintDevToken}; issuer and audience default to the development configuration. */
export interface MintDevTokenOptions {
  dataDir: string;
  sub: string;
  roles: string[];
  name?: string;
  ttlSeconds?: number;
  clock: Clock;
  issuer?: string;
  audience?: string;
  /** More claims, e.g. `gty: 'client-credentials'` for a service account; the registered claims and roles win. */
  claims?: Record<string, unknown>;
}

/** A compact JWS signed by the development issuer, as printed by `flaggate dev-token`. */
export async function mintDevToken(opts: MintDevTokenOptions): Promise<string> {
  const { sub, roles, name, ttlSeconds = 3600, issuer = 'flaggate-dev', audience = 'flaggate' } = opts;
  if (typeof sub !== 'string' || sub.length === 0) throw new TypeError('sub must be a non-empty string');
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || r.length === 0)) {
    throw new TypeError('roles must be an array of non-empty strings');
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new TypeError('ttlSeconds must be a positive integer');

  const { privateKey, kid } = await ensureDevIssuer(opts.dataDir);
  const iat = Math.floor(opts.clock.now() / 1000);
  const claims: Record<string, unknown> = { ...opts.claims, roles: [...roles] };
  if (name !== undefined) claims['name'] = name;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALG, typ: 'JWT', kid })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(sub)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomUUID())
    .sign(privateKey);
}

async function readExisting(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes a fresh key beside the target and links it into place: link fails if another process won. */
async function createKey(keyPath: string): Promise<string> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const text = `${JSON.stringify(await exportJWK(privateKey))}\n`;
  const temp = `${keyPath}.${randomUUID()}.tmp`;
  await writeDurably(temp, text, 0o600);
  try {
    await link(temp, keyPath);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readFile(keyPath, 'utf8');
  } finally {
    await unlink(temp);
  }
}

interface Ed25519PrivateJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  d: string;
}

function parsePrivateJwk(text: string, path: string): Ed25519PrivateJwk {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', 'the development issuer key is not JSON', { cause, details: { path } });
  }
  const k = jwk as Partial<Record<string, unknown>> | null;
  if (!k || k['kty'] !== 'OKP' || k['crv'] !== 'Ed25519' || typeof k['x'] !== 'string' || typeof k['d'] !== 'string') {
    throw new FlaggateError('CONFIG_INVALID', 'the development issuer key is not an Ed25519 private JWK', { details: { path } });
  }
  return { kty: 'OKP', crv: 'Ed25519', x: k['x'], d: k['d'] };
}

/** The public set is derived from the key, so replacing it (temp file + rename) is safe. */
async function writeIfChanged(path: string, text: string): Promise<void> {
  if ((await readExisting(path)) === text) return;
  await replaceFile(path, text, 0o644);
}

async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeDurably(temp, text, mode);
  await rename(temp, path);
}

async function writeDurably(path: string, text: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await writeFile(handle, text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}
