import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FlaggateError } from '../../errors.js';
import type { DriftProbe, FlagRef, Snapshot } from '../probe.js';

/**
 * A flagd flag file, read as it is on disk: every flag's definition, and a digest of the bytes, so
 * an edit outside flaggate shows even when it touches no flag (or leaves the file unreadable).
 */
export function createFlagdProbe(options: { path: string }): DriftProbe {
  return {
    platform: 'flagd',
    source: 'file',
    snapshot(known: readonly FlagRef[]): Promise<Snapshot> {
      let bytes: Buffer;
      try {
        bytes = readFileSync(options.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          return Promise.reject(new FlaggateError('ADAPT_STATE_UNAVAILABLE', 'cannot read the flag file', { cause: err }));
        }
        bytes = Buffer.alloc(0);
      }
      const digest = createHash('sha256').update(bytes).digest('hex');
      const flags = new Map<string, unknown>();
      const parsed = parseFile(bytes);
      // An unreadable file says nothing about its flags: only the digest changes.
      if (parsed === undefined) return Promise.resolve({ flags, digest });
      for (const [key, definition] of Object.entries(parsed.flags)) flags.set(key, definition);
      for (const ref of known) if (!flags.has(ref.key)) flags.set(ref.key, null);
      // A flag's state here is its definition, as a change through flaggate records the one it starts from.
      return Promise.resolve({ flags, digest, fileParts: parsed.rest, statesAsRecorded: true });
    },
  };
}

/** The file's flags, and its other members but `$schema` (which flaggate writes into a file it creates). */
function parseFile(bytes: Buffer): { flags: Record<string, unknown>; rest: Record<string, unknown> } | undefined {
  if (bytes.length === 0) return { flags: {}, rest: {} };
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const { flags, $schema: _schema, ...rest } = parsed as Record<string, unknown>;
    if (typeof flags !== 'object' || flags === null || Array.isArray(flags)) return undefined;
    return { flags: flags as Record<string, unknown>, rest };
  } catch {
    return undefined;
  }
}
