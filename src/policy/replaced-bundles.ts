import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FlaggateError } from '../errors.js';
import { writeFileDurably } from './bundle-archive.js';

const FILE = 'replaced.json';
const replacedSchema = z.strictObject({ policies: z.array(z.string().regex(/^[0-9a-f]{64}$/)) });

/**
 * The signed bundles this sidecar had in force and has since replaced, by what they decide with
 * (`bundlePolicySha256`: a new framing, signature or JSON spacing of one is the same policy), kept
 * beside the bundle archive. A signature never expires with its bundle: a bundle service, or
 * whoever can write the bundle file, could hand back an older signed bundle (with a rule since
 * tightened) and have it verify. Such a bundle is refused as a rollback; a revert is a new
 * revision, signed again.
 */
export interface ReplacedBundles {
  /** Refuses (POLICY_BUNDLE_ROLLBACK) a bundle whose policy is that of one replaced before. */
  refuseRollback(policy: string, sha256: string): void;
  /**
   * Notes a swap durably, before it is recorded (a crash after the record must not lose it): the
   * policy replaced joins the list, the one coming into force leaves it (a rollback let through is
   * in force, not replaced). Returns how to take the note back when the swap fails after all.
   */
  noteSwap(replacedPolicy: string | undefined, inForcePolicy: string): () => void;
}

/** The list in `archiveDir`; an unreadable list fails the start, since nothing could be refused without it. */
export function openReplacedBundles(archiveDir: string): ReplacedBundles {
  const path = join(archiveDir, FILE);
  const replaced = new Set(readList(path));
  return {
    refuseRollback(policy, sha256) {
      if (!replaced.has(policy)) return;
      throw new FlaggateError(
        'POLICY_BUNDLE_ROLLBACK',
        `policy bundle ${sha256} holds the policy of a signed bundle this sidecar replaced: a rollback is refused (a revert is a new revision, signed again; policy.allowRollback lets it through)`,
        { details: { sha256, policy } },
      );
    },
    noteSwap(replacedPolicy, inForcePolicy) {
      const before = [...replaced];
      replaced.delete(inForcePolicy);
      if (replacedPolicy !== undefined && replacedPolicy !== inForcePolicy) replaced.add(replacedPolicy);
      const write = () => writeFileDurably(path, `${JSON.stringify({ policies: [...replaced] })}\n`);
      if (replaced.size !== before.length || before.some((p) => !replaced.has(p))) write();
      return () => {
        replaced.clear();
        for (const p of before) replaced.add(p);
        write();
      };
    },
  };
}

function readList(path: string): string[] {
  if (!existsSync(path)) return [];
  try {
    return replacedSchema.parse(JSON.parse(readFileSync(path, 'utf8'))).policies;
  } catch (cause) {
    throw new FlaggateError('POLICY_BUNDLE_ROLLBACK', `${path}: the list of replaced policy bundles cannot be read, so no rollback could be refused; restore it or remove it knowingly`, { cause });
  }
}
