import { closeSync, fchmodSync, fchownSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';

/** One flag as flagd's flag-definition schema describes it (https://flagd.dev/schema/v0/flags.json). */
export const flagDefinitionSchema = z
  .object({
    state: z.enum(['ENABLED', 'DISABLED']),
    variants: z.record(z.string().min(1), z.union([z.boolean(), z.string(), z.number(), z.record(z.string(), z.unknown()), z.array(z.unknown())])),
    defaultVariant: z.string().min(1),
    targeting: z.record(z.string(), z.unknown()).optional(),
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .strict()
  .refine((f) => Object.keys(f.variants).length > 0, { message: 'variants must not be empty', path: ['variants'] })
  .refine((f) => Object.hasOwn(f.variants, f.defaultVariant), { message: 'defaultVariant must name a variant', path: ['defaultVariant'] });

export type FlagDefinition = z.infer<typeof flagDefinitionSchema>;

export interface FlagFile {
  $schema?: string;
  flags: Record<string, FlagDefinition>;
  [key: string]: unknown;
}

export const flagdSchemaUrl = 'https://flagd.dev/schema/v0/flags.json';

/** Reads the flag file; a missing file is an empty one. Throws on anything that is not a flag file. */
export function readFlagFile(path: string): FlagFile {
  return parseFlagFile(path, readFlagFileBytes(path));
}

/** The flag file's bytes as they are now; undefined when there is no file. */
export function readFlagFileBytes(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The flag file `bytes` (read from `path`) hold: `readFlagFile` over bytes already read. */
export function parseFlagFile(path: string, bytes: Buffer | undefined): FlagFile {
  if (bytes === undefined) return { $schema: flagdSchemaUrl, flags: Object.create(null) as Record<string, FlagDefinition> };
  const parsed = JSON.parse(bytes.toString('utf8')) as FlagFile;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.flags !== 'object' || parsed.flags === null || Array.isArray(parsed.flags)) {
    throw new Error(`${path} is not a flagd flag file (no "flags" object)`);
  }
  // Keys come from requests: a flag named "toString" or "constructor" must find nothing inherited.
  parsed.flags = Object.assign(Object.create(null) as Record<string, FlagDefinition>, parsed.flags);
  return parsed;
}

/**
 * Throws when the file, read from `path`, holds a number it would not be written back as: every
 * change writes the whole file again, so it would change what another flag says. Reads need no such file.
 */
export function requireWritableBack(path: string, file: FlagFile): void {
  const unwritable = numberNotWrittenBack(file, '');
  if (unwritable !== undefined) throw new Error(`${path} holds a number at ${unwritable} that JSON cannot write back as it is read (1e999 would be written as null, -0 as 0): write it as the number it means before changes are made through flaggate`);
}

/**
 * Where the file holds a number that `JSON.stringify` would write as another value: flaggate writes
 * the whole file again on every change, so a hand-written `1e999` (Infinity to flagd) in another
 * flag's rule would become `null`, changing a flag no entry names.
 */
function numberNotWrittenBack(value: unknown, at: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? undefined : at || '/';
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = numberNotWrittenBack(v, `${at}/${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Replaces the file atomically: write a temp file beside the real file, fsync it, rename it over
 * the real file, fsync its directory. A reader (flagd, an OpenFeature provider) sees the old file or
 * the new one, never half of either; a crash leaves one of the two. A symlinked path (a ConfigMap
 * mount, a deploy's `current` link) is followed: renaming over the link itself would leave the file
 * flagd reads unchanged. The file keeps its mode; a new one is 0644, for flagd to read.
 * `beforeReplace` runs last before the rename, the new file on disk: what it throws leaves the
 * old file in place and no temp file behind.
 */
export function writeFlagFileAtomic(path: string, file: FlagFile, options: { beforeReplace?: () => void } = {}): void {
  const target = resolveFlagFile(path);
  const dir = dirname(target);
  mkdirSync(dir, { recursive: true });
  const existing = existingStat(target);
  const mode = existing ? existing.mode & 0o7777 : 0o644;
  const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, mode); // exactly the old mode, whatever the umask
    if (existing) keepOwner(fd, existing);
    const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n', 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    options.beforeReplace?.();
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** A temp file older than this is no write under way: a writer renames its own within a second or so. */
const STALE_TEMP_MS = 60_000;

/**
 * Removes the temp files a killed writer left beside the flag file (full copies of it, one per kill,
 * that nothing else removes); returns how many. Run at start-up, before this sidecar writes.
 */
export function removeStaleTempFiles(path: string, now = Date.now()): number {
  const target = resolveFlagFile(path);
  const dir = dirname(target);
  const name = basename(target);
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0; // no directory yet: nothing was written there
  }
  for (const entry of entries) {
    if (!entry.startsWith(`.${name}.`) || !/^\.[0-9a-f]{12}\.tmp$/.test(entry.slice(name.length + 1))) continue;
    const at = join(dir, entry);
    const stat = existingStat(at);
    if (!stat?.isFile() || now - stat.mtimeMs < STALE_TEMP_MS) continue;
    rmSync(at, { force: true });
    removed += 1;
  }
  return removed;
}

/** The real file behind `path`, following symlinks, including one whose target does not exist yet. */
function resolveFlagFile(path: string): string {
  let current = resolve(path);
  for (let hops = 0; hops < 40; hops += 1) {
    try {
      return realpathSync(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Missing: either the file itself (write it there) or a dangling link (write where it points).
    let link: string;
    try {
      if (!lstatSync(current).isSymbolicLink()) return current;
      link = readlinkSync(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return current;
      throw err;
    }
    current = resolve(dirname(current), link);
  }
  throw new Error(`${path}: too many levels of symbolic links`);
}

function existingStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The new file gets the old one's owner and group: flagd may run as another user that reads the file
 * through them (mode 0640, say). A process that may not give them (not root, not in the group)
 * writes nothing rather than a file flagd may no longer read while the ledger says applied.
 */
function keepOwner(fd: number, old: Stats): void {
  const me = { uid: process.getuid?.(), gid: process.getgid?.() };
  if (old.uid === me.uid && old.gid === me.gid) return;
  try {
    fchownSync(fd, old.uid, old.gid);
  } catch (err) {
    throw new Error(`the flag file belongs to ${old.uid}:${old.gid}, which this process cannot give the file it writes (${(err as NodeJS.ErrnoException).code ?? String(err)}); nothing was written`, { cause: err });
  }
}
