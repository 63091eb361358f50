import { Ajv, type ValidateFunction } from 'ajv';
import { z } from 'zod';
import { newEntrySchema } from './entry-schema.js';

/**
 * The entry schema (entry-schema.ts) compiled by Ajv into plain checks, for the path every entry
 * takes: zod's parse builds a copy of every object it accepts, which is garbage on each change.
 * The zod schema stays the definition, and this check is its own JSON Schema (draft-07, which Ajv's
 * core reads: about 9 MiB less resident at start than its draft 2020-12 build with every member
 * compiled up front), which reads as zod does: string lengths in code points (zod 4 counts them
 * too; lone surrogates never get here), a member required exactly where zod requires it, each
 * format also written as a `pattern` (so formats are not checked by name). A test holds the two to
 * the same verdict over generated entries and members.
 */
const ajv = new Ajv({ validateFormats: false, allErrors: false });
const jsonSchema = z.toJSONSchema(newEntrySchema, { target: 'draft-7' }) as { properties: Record<string, object>; required: string[] };

const wholeEntry = ajv.compile(jsonSchema);
/** Member checks, compiled when first asked for (an outcome sets only a few members anew). */
const members = new Map<string, ValidateFunction>();

/**
 * Whether `entry`, plain JSON (`findNonJson` found nothing), matches the new-entry schema.
 * False is for zod to confirm and explain: the caller asks `newEntrySchema` then.
 */
export function passesEntrySchema(entry: unknown): boolean {
  return wholeEntry(entry);
}

/** Whether `value`, plain JSON, matches the schema of the member `name`; false for a name the schema does not know. */
export function passesMemberSchema(name: string, value: unknown): boolean {
  let check = members.get(name);
  if (check === undefined) {
    if (!Object.hasOwn(jsonSchema.properties, name)) return false;
    members.set(name, (check = ajv.compile(jsonSchema.properties[name]!)));
  }
  return check(value);
}

/** The members an entry must have (the others may be absent). */
export const requiredEntryMembers: readonly string[] = jsonSchema.required;
