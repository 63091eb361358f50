import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
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
 * Replaces the file atomically: write a temp file in the same directory, fsync it, rename it over
 * the old one, fsync the directory. A reader (flagd, an OpenFeature provider) sees the old file or
 * the new one, never half of either; a crash leaves one of the two.
 */
export function writeFlagFileAtomic(path: string, file: FlagFile): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n', 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
