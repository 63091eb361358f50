import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileDurably } from '../durable-file.js';
import { holdExclusive } from '../exclusive-lock.js';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { importJWK, type JSONWebKeySet, type JWK } from 'jose';
import type { Clock } from '../clock.js';

type SigningKey = Awaited<ReturnType<typeof importJWK>>;
import { isoUtc } from '../clock.js';

/** The keys that sign checkpoints: one active; the public half of every earlier one kept so old checkpoints still verify. */
export interface Keyring {
  active(): Promise<{ kid: string; key: SigningKey }>;
  /** Public keys, newest first, as served at /v1/audit/keys. */
  jwks(): JSONWebKeySet;
  /** Makes a new Ed25519 key the active one; returns its kid. */
  rotate(): Promise<string>;
}

interface KeyringFile {
  active: string;
  /** `retired_at`: when a rotation replaced the key (its private half was destroyed then). */
  keys: Array<{ kid: string; created_at: string; retired_at?: string; public: JWK }>;
}

/**
 * Opens the keyring in `dir` (creating a first key on first use). Private keys are files of mode
 * 0600 named by their RFC 7638 thumbprint; `keyring.json` lists the public halves and the active kid.
 * A rotation destroys the private half of the key it replaces: a retired key can sign nothing more,
 * whoever reads the directory later. The manifest is read again whenever it changed on disk, so a
 * running sidecar signs with, and serves, a key `flaggate keys rotate` made beside it.
 */
export async function openKeyring(dir: string, clock: Clock): Promise<Keyring> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const manifestPath = join(dir, 'keyring.json');
  const stamp = () => stampOf(manifestPath);
  let read = stamp();
  let manifest: KeyringFile = read ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as KeyringFile) : { active: '', keys: [] };
  let cached: { kid: string; key: SigningKey } | undefined;
  const refresh = () => {
    const now = stamp();
    if (now === read || now === '') return;
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as KeyringFile;
    read = now;
  };

  // A key or manifest a power loss emptied would leave the checkpoints it signed unverifiable.
  const writeAtomic = (path: string, text: string, mode: number) => {
    writeFileDurably(path, text, mode);
    fsyncDir(dir);
  };

  const privatePath = (kid: string) => join(dir, `${kid}.private.jwk.json`);

  // Rotations take turns (two at once would each write a manifest the other's key is missing from);
  // the locked part runs without yielding, so a rotation in this process never waits on itself.
  const rotate = async (): Promise<string> => {
    const release = holdExclusive(join(dir, 'keyring.lock'), 30_000);
    if (!release) throw new Error(`another key rotation holds ${join(dir, 'keyring.lock')}`);
    try {
      return rotateHeld();
    } finally {
      release();
    }
  };

  const rotateHeld = (): string => {
    read = '';
    refresh();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = thumbprint(publicJwk);
    writeAtomic(privatePath(kid), JSON.stringify(privateKey.export({ format: 'jwk' })) + '\n', 0o600);
    const at = isoUtc(clock.now());
    const retiring = manifest.active;
    const earlier = manifest.keys.map((k) => (k.kid === retiring && !k.retired_at ? { ...k, retired_at: at } : k));
    manifest = { active: kid, keys: [{ kid, created_at: at, public: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }, ...earlier] };
    writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n', 0o644);
    read = stamp();
    // Only once the new key and the manifest naming it are durable: every other private half goes
    // (the one retired now, and any a crash left before its removal).
    removePrivateKeysBut(dir, kid);
    cached = undefined;
    return kid;
  };

  if (!manifest.active) await rotate();

  const load = async (): Promise<{ kid: string; key: SigningKey }> => {
    refresh();
    if (!cached || cached.kid !== manifest.active) {
      const kid = manifest.active;
      const jwk = JSON.parse(readFileSync(privatePath(kid), 'utf8')) as JWK;
      cached = { kid, key: await importJWK(jwk, 'EdDSA') };
    }
    return cached;
  };

  return {
    async active() {
      try {
        return await load();
      } catch (err) {
        // A rotation beside this process between reading the manifest and the key: read both again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        read = '';
        refresh();
        return load();
      }
    },
    jwks: () => {
      refresh();
      return { keys: manifest.keys.map((k) => k.public) };
    },
    rotate,
  };
}

/** The RFC 7638 thumbprint of an Ed25519 public key (its required members, in order). */
function thumbprint(jwk: JWK): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
}

/** Which version of a file is on disk (a rename over it is a new inode): '' when there is none. */
function stampOf(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return '';
  }
}

function removePrivateKeysBut(dir: string, kid: string): void {
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.private.jwk.json') && file !== `${kid}.private.jwk.json`) unlinkSync(join(dir, file));
  }
  fsyncDir(dir);
}
