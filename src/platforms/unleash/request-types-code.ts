import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

/** What scripts/record-unleash-schemas.ts records from a real Unleash's OpenAPI document. */
export interface RecordedUnleashSchemas {
  source: string;
  /** `METHOD /pattern` (as in ./routes.ts) → its request body's schema. */
  routes: Record<string, unknown>;
  components: { schemas: Record<string, unknown> };
}

/** Where the generated module is kept, from the repository's root. */
export const UNLEASH_TYPES_FILE = 'src/platforms/unleash/request-types.generated.ts';

/**
 * The text of `request-types.generated.ts`: Unleash's own route validation, as its route middleware
 * runs it on every body before a handler reads it (Ajv with `coerceTypes: true` and `strict: false`,
 * over the request-body schemas of its OpenAPI document), written ahead of time as plain functions
 * (Ajv's standalone code, as for the entry checks: no compiler loaded, no function made from text).
 * Formats are not checked: a body whose formats Unleash refuses is refused by Unleash, and changes
 * nothing.
 *
 * It exports `routeChecks`: `METHOD /pattern` → a check of `{ body }` that coerces the body in place,
 * exactly as Unleash would.
 */
export function unleashTypesModule(recorded: RecordedUnleashSchemas): string {
  // Each referenced schema one function (not inlined at every use): a fraction of the code.
  const ajv = new Ajv({ coerceTypes: true, strict: false, validateFormats: false, inlineRefs: false, code: { source: true, esm: true } });
  // Unleash's schemas reference `#/components/schemas/…` of their own document: kept as one document.
  const schemas = Object.fromEntries(Object.entries(recorded.components.schemas).map(([name, schema]) => [name, withoutAnnotations(schema)]));
  ajv.addSchema({ $id: 'unleash', components: { schemas } }, 'unleash');
  const keys = Object.keys(recorded.routes).sort();
  keys.forEach((key, i) => {
    const body = JSON.parse(JSON.stringify(recorded.routes[key]).replaceAll('"#/components/', '"unleash#/components/')) as object;
    ajv.addSchema({ type: 'object', properties: { body } }, `route${i}`);
  });
  const code = standaloneCode.default(ajv, Object.fromEntries(keys.map((_k, i) => [`route${i}`, `route${i}`])));
  return [
    '/* eslint-disable */',
    `// @ts-nocheck -- generated from ${recorded.source} (test/fixtures/unleash/request-schemas.json) by \`npm run write:unleash-types\`; do not edit.`,
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    code,
    `export const routeChecks = { ${keys.map((k, i) => `${JSON.stringify(k)}: route${i}`).join(', ')} };`,
    '',
  ].join('\n');
}

const ANNOTATIONS = new Set(['description', 'example', 'examples', 'title']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);

/**
 * A schema without what only documents it (descriptions, examples, `x-` extensions): the generated
 * code embeds each schema, and they are most of its text. Members named like annotations inside
 * `properties` are properties, and stay.
 */
function withoutAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key) || key.startsWith('x-')) continue;
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'required') out[key] = value;
    else if (SCHEMA_MAPS.has(key) && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutAnnotations(sub)]));
    } else out[key] = withoutAnnotations(value);
  }
  return out;
}
