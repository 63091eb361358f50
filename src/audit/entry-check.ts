import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { newEntrySchema } from './entry-schema.js';

/**
 * The entry schema (entry-schema.ts) compiled by Ajv into plain checks, for the path every entry
 * takes: zod's parse builds a copy of every object it accepts, which is garbage on each change.
 * The zod schema stays the definition, and this check is its own JSON Schema, which reads as zod
 * does: string lengths in code points (zod 4 counts them too; lone surrogates never get here), a
 * member required exactly where zod requires it, each format also written as a `pattern` (so
 * formats are not checked by name). A test holds the two to the same verdict over generated entries.
 */
const ajv = new Ajv2020({ validateFormats: false, allErrors: false });
const { $schema: _draft, ...jsonSchema } = z.toJSONSchema(newEntrySchema) as { $schema: string; properties: Record<string, object>; required: string[] };

const wholeEntry = ajv.compile(jsonSchema);
const members = new Map<string, ValidateFunction>(Object.entries(jsonSchema.properties).map(([name, schema]) => [name, ajv.compile(schema)]));

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
export const requiredEntryMembers: readonly string[] = jsonSchema.required;
