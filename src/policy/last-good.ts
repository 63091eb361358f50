import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readArchivedBundle, writeFileDurably } from './bundle-archive.js';

const lastGoodSchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  revision: z.string(),
  url: z.string(),
  etag: z.string().nullable(),
});

/** The last bundle the service delivered that loaded: its digest (the bytes are in the archive), where it came from and its ETag. */
export type LastGood = z.infer<typeof lastGoodSchema>;

const FILE = 'last-good.json';

/** Records which archived bundle is the last good one; written after the bundle is archived and in force. */
export function writeLastGood(archiveDir: string, lastGood: LastGood): void {
  writeFileDurably(join(archiveDir, FILE), `${JSON.stringify(lastGood)}\n`);
}

/**
 * The persisted last-good bundle with its bytes, or undefined when there is none or it cannot be
 * used (unreadable, or its archived bytes no longer match the digest). Its signature is checked
 * again when it loads, like any other bundle's.
 */
export function readLastGood(archiveDir: string): { lastGood: LastGood; bytes: Buffer } | undefined {
  const path = join(archiveDir, FILE);
  if (!existsSync(path)) return undefined;
  let parsed: z.ZodSafeParseResult<LastGood>;
  try {
    parsed = lastGoodSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
  if (!parsed.success) return undefined;
  const bytes = readArchivedBundle(archiveDir, parsed.data.sha256);
  return bytes ? { lastGood: parsed.data, bytes } : undefined;
}
