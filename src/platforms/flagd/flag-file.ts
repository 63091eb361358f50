import { closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, statSync, writeSync } from 'node:fs';
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { $schema: flagdSchemaUrl, flags: Object.create(null) as Record<string, FlagDefinition> };
    throw err;
  }
  const parsed = JSON.parse(text) as FlagFile;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.flags !== 'object' || parsed.flags === null || Array.isArray(parsed.flags)) {
    throw new Error(`${path} is not a flagd flag file (no "flags" object)`);
  }
  // Keys come from requests: a flag named "toString" or "constructor" must find nothing inherited.
  parsed.flags = Object.assign(Object.create(null) as Record<string, FlagDefinition>, parsed.flags);
  return parsed;
}

/**
 * Replaces the file atomically: write a temp file beside the real file, fsync it, rename it over
 * the real file, fsync its directory. A reader (flagd, an OpenFeature provider) sees the old file or
 * the new one, never half of either; a crash leaves one of the two. A symlinked path (a ConfigMap
 * mount, a deploy's `current` link) is followed: renaming over the link itself would leave the file
 * flagd reads unchanged. The file keeps its mode; a new one is 0644, for flagd to read.
 */
export function writeFlagFileAtomic(path: string, file: FlagFile): void {
  const target = resolveFlagFile(path);
  const dir = dirname(target);
  mkdirSync(dir, { recursive: true });
  const mode = existingMode(target) ?? 0o644;
  const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, mode); // exactly the old mode, whatever the umask
    const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n', 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, target);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
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

function existingMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
