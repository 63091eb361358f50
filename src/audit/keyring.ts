import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileDurably } from '../durable-file.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from 'jose';
import type { Clock } from '../clock.js';

type SigningKey = Awaited<ReturnType<typeof importJWK>>;
import { isoUtc } from '../clock.js';

/** The keys that sign checkpoints: one active, every earlier one kept so old checkpoints still verify. */
export interface Keyring {
  active(): Promise<{ kid: string; key: SigningKey }>;
  /** Public keys, newest first, as served at /v1/audit/keys. */
  jwks(): JSONWebKeySet;
  /** Makes a new Ed25519 key the active one; returns its kid. */
  rotate(): Promise<string>;
}

interface KeyringFile {
  active: string;
  keys: Array<{ kid: string; created_at: string; public: JWK }>;
}

/**
 * Opens the keyring in `dir` (creating a first key on first use). Private keys are files of mode
 * 0600 named by their RFC 7638 thumbprint; `keyring.json` lists the public halves and the active kid.
 */
export async function openKeyring(dir: string, clock: Clock): Promise<Keyring> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const manifestPath = join(dir, 'keyring.json');
  let manifest: KeyringFile = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as KeyringFile) : { active: '', keys: [] };
  let cached: { kid: string; key: SigningKey } | undefined;

  // A key or manifest a power loss emptied would leave the checkpoints it signed unverifiable.
  const writeAtomic = (path: string, text: string, mode: number) => {
    writeFileDurably(path, text, mode);
    fsyncDir(dir);
  };

  const rotate = async (): Promise<string> => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    writeAtomic(join(dir, `${kid}.private.jwk.json`), JSON.stringify(await exportJWK(privateKey)) + '\n', 0o600);
    manifest = { active: kid, keys: [{ kid, created_at: isoUtc(clock.now()), public: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }, ...manifest.keys] };
    writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n', 0o644);
    cached = undefined;
    return kid;
  };

  if (!manifest.active) await rotate();

  return {
    async active() {
      if (!cached || cached.kid !== manifest.active) {
        const jwk = JSON.parse(readFileSync(join(dir, `${manifest.active}.private.jwk.json`), 'utf8')) as JWK;
        cached = { kid: manifest.active, key: await importJWK(jwk, 'EdDSA') };
      }
      return cached;
    },
    jwks: () => ({ keys: manifest.keys.map((k) => k.public) }),
    rotate,
  };
}
