import * as generated from './entry-checks.generated.js';

/**
 * The entry schema (entry-schema.ts) as plain checks, for the path every entry takes: zod's parse
 * builds a copy of every object it accepts, which is garbage on each change. The zod schema stays
 * the definition: the checks are Ajv's code for its own JSON Schema (draft-07), generated ahead of
 * time (`entry-check-code.ts`; a test fails when the kept module is not what the schema gives), so
 * nothing is compiled at start. They read as zod does: string lengths in code points (zod 4 counts
 * them too; lone surrogates never get here), a member required exactly where zod requires it, each
 * format also written as a `pattern` (so formats are not checked by name). A test holds the two to
 * the same verdict over generated entries and members.
 */
type Check = (value: unknown) => boolean;

const wholeEntry = generated.wholeEntry as Check;
/** Each member's check by the member's name (a Map: a module namespace's properties are slow to look up). */
const members = new Map(
  Object.entries(generated as unknown as Record<string, Check>)
    .filter(([name]) => name.startsWith('member_'))
    .map(([name, check]) => [name.slice('member_'.length), check]),
);

/**
 * Whether `entry`, plain JSON (`findNonJson` found nothing), matches the new-entry schema.
 * False is for zod to confirm and explain: the caller asks `newEntrySchema` then.
 */
export function passesEntrySchema(entry: unknown): boolean {
  return wholeEntry(entry);
}

/** Whether `value`, plain JSON, matches the schema of the member `name`; false for a name the schema does not know. */
export function passesMemberSchema(name: string, value: unknown): boolean {
  const check = members.get(name);
  return check !== undefined && check(value);
}

/** The members an entry must have (the others may be absent). */
export const requiredEntryMembers: readonly string[] = generated.requiredEntryMembers;
