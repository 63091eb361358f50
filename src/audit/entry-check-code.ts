import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { z } from 'zod';
import { newEntrySchema } from './entry-schema.js';

/** Where the generated module is kept, from the repository's root. */
export const ENTRY_CHECKS_FILE = 'src/audit/entry-checks.generated.ts';

/**
 * The text of `entry-checks.generated.ts`: the entry schema's checks as plain functions, written
 * by Ajv's standalone code generation from the schema's own JSON Schema (zod writes it: draft-07,
 * which Ajv's core reads). Generated ahead of time, not compiled at start, so the running sidecar
 * loads neither Ajv's compiler nor the garbage of a compilation (about 8 MiB more resident at start,
 * measured), and makes no function from text at all. Written by `npm run write:entry-checks`; a
 * test fails when the kept file is not what this writes.
 *
 * It exports `wholeEntry` (the new-entry schema), `member_<name>` for each member's own schema, and
 * `requiredEntryMembers`.
 */
export function entryChecksModule(): string {
  const schema = z.toJSONSchema(newEntrySchema, { target: 'draft-7' }) as { properties: Record<string, object>; required: string[] };
  const ajv = new Ajv({ validateFormats: false, allErrors: false, code: { source: true, esm: true } });
  const names = Object.keys(schema.properties);
  const bad = names.find((name) => !/^[a-z][a-z0-9_]*$/.test(name));
  if (bad !== undefined) throw new Error(`entry member "${bad}" cannot name an exported check`);
  ajv.addSchema(schema, 'wholeEntry');
  for (const name of names) ajv.addSchema(schema.properties[name]!, `member_${name}`);
  // A CommonJS module: its default import is `module.exports`, whose `default` is the function.
  const code = standaloneCode.default(ajv, Object.fromEntries(['wholeEntry', ...names.map((n) => `member_${n}`)].map((id) => [id, id])));
  return [
    '/* eslint-disable */',
    '// @ts-nocheck -- generated from entry-schema.ts by `npm run write:entry-checks`; do not edit.',
    // Ajv's ESM output still loads its runtime helpers (CommonJS files) with `require`.
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    code,
    `export const requiredEntryMembers = ${JSON.stringify(schema.required)};`,
    '',
  ].join('\n');
}
