/**
 * Records the request-body schemas of the Unleash writes flaggate understands, from a real Unleash
 * (the version pinned in test/support/unleash-server) serving its own OpenAPI document
 * (`GET /docs/openapi.json`): the schemas its route validator compiles, with Ajv's coerceTypes, and
 * runs on every body before its handlers. Writes test/fixtures/unleash/request-schemas.json, from which
 * `npm run write:unleash-types` writes the checks flaggate runs (src/platforms/unleash/request-types.generated.ts).
 *
 *   npx tsx scripts/record-unleash-schemas.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeRoutes } from '../src/platforms/unleash/routes.js';
import { startPostgres } from '../test/support/postgres.js';
import { startUnleash } from '../test/support/unleash.js';

type Json = Record<string, unknown>;
const out = new URL('../test/fixtures/unleash/request-schemas.json', import.meta.url);
const version = (JSON.parse(readFileSync(new URL('../test/support/unleash-server/node_modules/unleash-server/package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `/api/x/:a/y` and `/api/x/{b}/y` name the same route: parameters match by position. */
const shape = (path: string) => path.replace(/:[A-Za-z]+|\{[^}]+\}/g, '{}');

function refsIn(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.add(v.replace('#/components/schemas/', ''));
      else refsIn(v, found);
    }
  }
}

async function main(): Promise<void> {
  const cluster = await startPostgres();
  const unleash = await startUnleash({ databaseUrl: cluster.url() });
  let doc: { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, unknown> } };
  try {
    const res = await fetch(`${unleash.url}/docs/openapi.json`, { headers: { authorization: unleash.adminToken } });
    if (!res.ok) throw new Error(`GET /docs/openapi.json: ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } finally {
    await unleash.stop();
    await cluster.stop();
  }
  const byShape = new Map(Object.keys(doc.paths).map((p) => [shape(p), p]));
  const routes: Record<string, unknown> = {};
  const needed = new Set<string>();
  for (const route of writeRoutes) {
    const path = byShape.get(shape(route.pattern));
    const op = path ? doc.paths[path]![route.method.toLowerCase()] : undefined;
    if (!op) throw new Error(`Unleash ${version} documents no ${route.method} ${route.pattern}`);
    const schema = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
    if (schema === undefined) continue; // validated against nothing: nothing coerced
    routes[`${route.method} ${route.pattern}`] = schema;
    refsIn(schema, needed);
  }
  // Every schema the routes' schemas reach.
  const schemas: Record<string, unknown> = {};
  for (const queue = [...needed]; queue.length > 0; ) {
    const name = queue.shift()!;
    if (name in schemas) continue;
    const schema = doc.components.schemas[name];
    if (schema === undefined) throw new Error(`#/components/schemas/${name} is missing`);
    schemas[name] = schema;
    const more = new Set<string>();
    refsIn(schema, more);
    queue.push(...more);
  }
  const sorted = Object.fromEntries(Object.keys(schemas).sort().map((k) => [k, schemas[k]]));
  const recorded = { source: `unleash-server ${version}, GET /docs/openapi.json`, routes, components: { schemas: sorted } };
  writeFileSync(out, JSON.stringify(recorded, null, 1) + '\n');
  console.log(`${Object.keys(routes).length} routes, ${Object.keys(sorted).length} schemas -> ${out.pathname}`);
}

void main();
