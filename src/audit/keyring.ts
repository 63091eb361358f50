import { mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileDurably } from '../durable-file.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from 'jose';
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
  const stamp = () => {
    try {
      const st = statSync(manifestPath);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return '';
    }
  };
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

  const rotate = async (): Promise<string> => {
    refresh();
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    writeAtomic(privatePath(kid), JSON.stringify(await exportJWK(privateKey)) + '\n', 0o600);
    const at = isoUtc(clock.now());
    const retiring = manifest.active;
    const earlier = manifest.keys.map((k) => (k.kid === retiring && !k.retired_at ? { ...k, retired_at: at } : k));
    manifest = { active: kid, keys: [{ kid, created_at: at, public: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }, ...earlier] };
    writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n', 0o644);
    read = stamp();
    // Only once the new key and the manifest naming it are durable: the old private half goes.
    if (retiring && retiring !== kid) {
      try {
        unlinkSync(privatePath(retiring));
        fsyncDir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
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
