import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from '../private-path.js';

/** The archive's folder under the data dir: every bundle ever in force, by the SHA-256 of its bytes. */
export const BUNDLE_ARCHIVE_DIR = 'policy-bundles';

const archived = /^([0-9a-f]{64})\.tar\.gz$/;

/** Writes `bytes` to `path` so that a crash leaves the old file or the whole new one (temp file, fsync, rename, fsync of the folder). */
export function writeFileDurably(path: string, bytes: Uint8Array | string): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dirFd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Keeps a bundle's exact bytes as `<dir>/<sha256>.tar.gz` and returns the digest: the name is the
 * content, so a bundle already there is left as it is, and replay finds the bundle a decision names.
 */
export function archiveBundle(dir: string, bytes: Uint8Array): string {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  ensurePrivateDir(dir);
  const path = join(dir, `${sha256}.tar.gz`);
  if (!existsSync(path)) writeFileDurably(path, bytes);
  return sha256;
}

/** The archived bundle with this digest, checked against it (a swapped file is not handed out as the original); undefined when absent or altered. */
export function readArchivedBundle(dir: string, sha256: string): Buffer | undefined {
  const path = join(dir, `${sha256}.tar.gz`);
  if (!/^[0-9a-f]{64}$/.test(sha256) || !existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  return createHash('sha256').update(bytes).digest('hex') === sha256 ? bytes : undefined;
}

/** The archive's bundles by the digest their file name claims (a file whose bytes differ is caught where it is used). */
export function listArchivedBundles(dir: string): Map<string, string> {
  if (!existsSync(dir)) return new Map();
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const m = archived.exec(name);
    if (m) out.set(m[1]!, join(dir, name));
  }
  return out;
}
