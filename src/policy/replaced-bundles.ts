import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FlaggateError } from '../errors.js';
import { writeFileDurably } from './bundle-archive.js';

const FILE = 'replaced.json';
const replacedSchema = z.strictObject({ content: z.array(z.string().regex(/^[0-9a-f]{64}$/)) });

/**
 * The signed bundles this sidecar had in force and has since replaced, by the digest of the files
 * they hold (`bundleContentSha256`, so a new framing of one is the same bundle), kept beside the
 * bundle archive. A signature never expires with its bundle: a bundle service, or whoever can write
 * the bundle file, could hand back an older signed bundle (with a rule since tightened) and have it
 * verify. Such a bundle is refused as a rollback; a revert is a new revision, signed again.
 */
export interface ReplacedBundles {
  /** Refuses (POLICY_BUNDLE_ROLLBACK) a bundle whose files are those of one replaced before. */
  refuseRollback(content: string, sha256: string): void;
  /**
   * Notes a swap, durably, once it is recorded: the files of the bundle replaced join the list, and
   * those of the bundle now in force leave it (a rollback let through is in force, not replaced).
   */
  noteSwap(replacedContent: string | undefined, inForceContent: string): void;
}

/** The list in `archiveDir`; an unreadable list fails the start, since nothing could be refused without it. */
export function openReplacedBundles(archiveDir: string): ReplacedBundles {
  const path = join(archiveDir, FILE);
  const replaced = new Set(readList(path));
  return {
    refuseRollback(content, sha256) {
      if (!replaced.has(content)) return;
      throw new FlaggateError(
        'POLICY_BUNDLE_ROLLBACK',
        `policy bundle ${sha256} holds the files of a signed bundle this sidecar replaced: a rollback is refused (a revert is a new revision, signed again; policy.allowRollback lets it through)`,
        { details: { sha256, content } },
      );
    },
    noteSwap(replacedContent, inForceContent) {
      const before = replaced.size;
      const wasListed = replaced.delete(inForceContent);
      if (replacedContent !== undefined && replacedContent !== inForceContent) replaced.add(replacedContent);
      if (wasListed || replaced.size !== before) writeFileDurably(path, `${JSON.stringify({ content: [...replaced] })}\n`);
    },
  };
}

function readList(path: string): string[] {
  if (!existsSync(path)) return [];
  try {
    return replacedSchema.parse(JSON.parse(readFileSync(path, 'utf8'))).content;
  } catch (cause) {
    throw new FlaggateError('POLICY_BUNDLE_ROLLBACK', `${path}: the list of replaced policy bundles cannot be read, so no rollback could be refused; restore it or remove it knowingly`, { cause });
  }
}
