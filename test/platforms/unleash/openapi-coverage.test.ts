/**
 * Every state-changing `/api/admin/` operation of the real Unleash's own OpenAPI document
 * (`/docs/openapi.json`) is either classified by the adapter (a write, or a read for the POSTs that
 * change nothing) or on the refusal list with its reason; a new Unleash operation that is neither
 * fails here. "Flag-related" is defined by the operation's OpenAPI tags (FLAG_TAGS), with the
 * exceptions named in NOT_FLAGS_DESPITE_TAG and FLAGS_DESPITE_TAG.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyUnleash } from '../../../src/platforms/unleash/classify.js';
import { refusalFor, refusedOperations } from '../../../src/platforms/unleash/refused.js';
import { matchPostRead, matchWrite, readRoutes, splitPath, writeRoutes } from '../../../src/platforms/unleash/routes.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { startUnleash, type UnleashServer } from '../../support/unleash.js';

let pg: PgCluster | undefined;
let unleash: UnleashServer | undefined;

beforeAll(async () => {
  pg = await startPostgres();
  unleash = await startUnleash({ databaseUrl: pg.url() });
}, 180_000);

afterAll(async () => {
  await unleash?.stop();
  await pg?.stop();
}, 60_000);

/** OpenAPI tags whose operations concern what flags serve or describe. */
const FLAG_TAGS = new Set(['Features', 'Archive', 'Strategies', 'Segments', 'Tags', 'Context', 'Import/Export', 'Dependencies', 'Feature Types',
  'Environments', 'Projects', 'Playground', 'Maintenance']);
/** Tagged like flags, but not flag state: a person's favourites, project API tokens. */
const NOT_FLAGS_DESPITE_TAG = new Set(['addFavoriteFeature', 'removeFavoriteFeature', 'addFavoriteProject', 'removeFavoriteProject',
  'createProjectApiToken', 'deleteProjectApiToken']);
const FLAGS_DESPITE_TAG = new Set<string>();

const STATE_CHANGING = new Set(['post', 'put', 'patch', 'delete']);

interface Operation {
  method: string;
  path: string;
  operationId: string;
  tags: string[];
}

function isFlagRelated(op: Operation): boolean {
  if (NOT_FLAGS_DESPITE_TAG.has(op.operationId)) return false;
  return FLAGS_DESPITE_TAG.has(op.operationId) || op.tags.some((t) => FLAG_TAGS.has(t));
}

/** The operation's path with every `{parameter}` filled in, as a client would send it. */
function concrete(path: string): string {
  return path.replace(/\{[^}]+\}/g, 'p1');
}

function raw(method: string, path: string): RawRequest {
  const body = Buffer.from('{}');
  return { method, path, headers: { 'content-type': 'application/json' }, body, bodySha256: createHash('sha256').update(body).digest('hex') };
}

async function adminOperations(server: UnleashServer): Promise<Operation[]> {
  const res = await fetch(`${server.url}/docs/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, { operationId: string; tags?: string[] }>> };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/admin/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      if (STATE_CHANGING.has(method)) out.push({ method: method.toUpperCase(), path, operationId: op.operationId, tags: op.tags ?? [] });
    }
  }
  return out;
}

describe("Unleash's OpenAPI document against the adapter", () => {
  it('classifies or refuses, with a reason, every state-changing admin operation', async () => {
    const ops = await adminOperations(unleash!);
    const counts = { classifiedWrites: 0, classifiedReads: 0, refusedFlag: 0, refusedOther: 0 };
    const uncovered: string[] = [];
    const mislabelled: string[] = [];
    const usedWrites = new Set<unknown>();
    const usedReads = new Set<unknown>();
    const usedRefusals = new Set<unknown>();
    for (const op of ops) {
      const segments = splitPath(concrete(op.path));
      const write = matchWrite(op.method, segments);
      const read = matchPostRead(op.method, segments);
      const refused = refusalFor(op.method, segments);
      const hits = [write, read, refused].filter(Boolean).length;
      const name = `${op.method} ${op.path} (${op.operationId})`;
      if (hits !== 1) {
        uncovered.push(`${name}: ${hits === 0 ? 'neither classified nor refused' : 'matched more than once'}`);
        continue;
      }
      if (write) {
        usedWrites.add(write.route);
        counts.classifiedWrites++;
        if (!isFlagRelated(op)) mislabelled.push(`${name} is classified but not flag-related by its tags`);
      } else if (read) {
        usedReads.add(read.route);
        counts.classifiedReads++;
      } else if (refused) {
        usedRefusals.add(refused);
        if (refused.operation !== op.operationId) mislabelled.push(`${name} refused as ${refused.operation}`);
        if (refused.flagRelated !== isFlagRelated(op)) mislabelled.push(`${name} refused with flagRelated=${refused.flagRelated}, tags say otherwise`);
        if (refused.flagRelated) counts.refusedFlag++;
        else counts.refusedOther++;
        // The refusal reaches the client: the classification says why.
        const got = classifyUnleash(raw(op.method, concrete(op.path)));
        expect(got).toMatchObject({ kind: 'unrecognized', reason: expect.stringContaining('refused by design') });
      }
    }
    const flagRelated = ops.filter(isFlagRelated).length;
    console.log(
      `Unleash OpenAPI: ${ops.length} state-changing admin operations; ${flagRelated} flag-related: ` +
        `${counts.classifiedWrites} classified as writes, ${counts.classifiedReads} as reads (change nothing), ` +
        `${counts.refusedFlag} refused by design; ${counts.refusedOther} not flag-related, refused by design`,
    );
    expect(uncovered).toEqual([]);
    expect(mislabelled).toEqual([]);
    // Every flag-related operation is one of the three; nothing else is left.
    expect(counts.classifiedWrites + counts.classifiedReads + counts.refusedFlag).toBe(flagRelated);
    expect(counts.refusedOther).toBe(ops.length - flagRelated);
    // And the tables name nothing Unleash does not have.
    expect(writeRoutes.filter((r) => !usedWrites.has(r)).map((r) => `${r.method} ${r.pattern}`)).toEqual([]);
    expect(readRoutes.filter((r) => !usedReads.has(r)).map((r) => r.pattern)).toEqual([]);
    expect(refusedOperations.filter((r) => !usedRefusals.has(r)).map((r) => r.operation)).toEqual([]);
  }, 60_000);
});
