/**
 * A GrowthBook REST API double for tests (features, their per-environment toggles and rules,
 * revisions, environments), built from GrowthBook's published OpenAPI document: every request and
 * every response is validated against that document with express-openapi-validator, so the double
 * answers in the documented shapes, and a request the document refuses is a 400 as on GrowthBook.
 *
 * What the document leaves open follows GrowthBook's own handlers: errors are `{message}`, a thrown
 * error (an unknown feature or environment, an existing id) is a 400, a missing or wrong key a 401.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { parse as parseYaml } from 'yaml';

type Json = Record<string, unknown>;

export const GB_DIR = resolve(import.meta.dirname, '../../fixtures/growthbook');
/**
 * The organization's environments by default: `dev` on for a new feature, `production` off (an
 * organization sets `defaultState` per environment; GrowthBook's own default is on for both).
 */
export const ENVIRONMENTS: readonly DoubleEnvironment[] = [{ id: 'dev', defaultState: true }, { id: 'production', defaultState: false }];

/** An organization environment: on or off for a new feature, and the one whose rules it inherits. */
export interface DoubleEnvironment {
  id: string;
  defaultState: boolean;
  parent?: string;
}

export interface GrowthBookDouble {
  url: string;
  /** The stored feature (a copy), or undefined. */
  feature(id: string): Json | undefined;
  /**
   * Stores a saved group of `values` for `attributeKey` (a list group, as the document's SavedGroup
   * gives it), or replaces its values, as an update through GrowthBook does.
   */
  putSavedGroup(id: string, attributeKey: string, values: string[]): void;
  /** Requests the double received: method, path, whether the document accepted them. */
  received: Array<{ method: string; path: string; valid: boolean }>;
  /** Responses the document refused (the double's own faults): empty in a passing test. */
  invalidResponses: string[];
  stop(): Promise<void>;
}

const OPERATIONS = ['/v1/features', '/v1/features/{id}', '/v1/features/{id}/toggle', '/v1/features/{id}/revert', '/v1/environments', '/v1/saved-groups/{id}'];

let spec: Json | undefined;

/**
 * The operations the double answers and the components they reference, unchanged but for one
 * pattern: the generator writes a schema that extends another (`FeatureWithRevisionsV1`, every
 * rule type, the paginated list) as `allOf` of objects that each forbid the other's properties
 * (`additionalProperties: false` on every part), which no body can satisfy. Each such `allOf` is
 * read as the union it means: the parts lose their own `additionalProperties`, and the whole gets
 * `unevaluatedProperties: false`, so a property none of the parts declares is still refused.
 */
function apiSpec(): Json {
  if (spec) return spec;
  const full = parseYaml(readFileSync(join(GB_DIR, 'openapi.yaml'), 'utf8')) as Json & { paths: Record<string, Json>; components: Record<string, Record<string, unknown>> };
  const paths = Object.fromEntries(OPERATIONS.map((p) => [p, structuredClone(full.paths[p])]));
  const components: Record<string, Record<string, unknown>> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const o = node as Json;
    if (Array.isArray(o.allOf) && (o.allOf as Json[]).some((part) => part.additionalProperties === false)) {
      // A part given by reference is copied in, so the shared component keeps its own rule elsewhere.
      o.allOf = (o.allOf as Json[]).map((part) => {
        const { additionalProperties: _dropped, ...rest } = typeof part.$ref === 'string' ? (structuredClone(resolveRef(full, part.$ref)) as Json) : part;
        return rest;
      });
      o.unevaluatedProperties = false;
    }
    const ref = typeof o.$ref === 'string' ? /^#\/components\/([^/]+)\/([^/]+)$/.exec(o.$ref) : null;
    if (ref) {
      const [, kind, name] = ref as unknown as [string, string, string];
      components[kind] ??= {};
      if (!(name in components[kind])) {
        components[kind][name] = structuredClone(full.components[kind]![name]);
        visit(components[kind][name]);
      }
    }
    Object.values(o).forEach(visit);
  };
  visit(paths);
  spec = { ...full, paths, components: { ...components, securitySchemes: full.components.securitySchemes } };
  return spec;
}

function resolveRef(doc: Json, ref: string): unknown {
  return ref.slice(2).split('/').reduce<unknown>((node, key) => (node as Json)[key], doc);
}

interface Stored {
  feature: Json;
  /** Every published revision's feature, by version. */
  revisions: Map<number, Json>;
}

export async function startGrowthBookDouble(options: { secretKey: string; environments?: readonly DoubleEnvironment[] }): Promise<GrowthBookDouble> {
  const organization = options.environments ?? ENVIRONMENTS;
  const ids = organization.map((e) => e.id);
  const environmentsOf = (body: Json, current: Json | undefined) => settingsOf(organization, body, current);
  const features = new Map<string, Stored>();
  const received: GrowthBookDouble['received'] = [];
  const invalidResponses: string[] = [];
  const app = express();
  app.use((req, res, next) => {
    const auth = req.headers.authorization;
    const basic = `Basic ${Buffer.from(`${options.secretKey}:`).toString('base64')}`;
    if (auth === `Bearer ${options.secretKey}` || auth === basic) return next();
    received.push({ method: req.method, path: req.originalUrl, valid: false });
    fail(res, 401, auth === undefined ? 'Missing API key in Authorization header' : 'Invalid API key');
  });
  app.use(express.json({ strict: false }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(apiSpec()) as never,
      validateApiSpec: false,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
      validateResponses: {
        removeAdditional: false,
        // The document describes errors once, in prose (a status and `{message}`), not per operation.
        onError: (err, body, req) => {
          const documentedError = /no schema defined for status code '4\d\d'/.test(err.message) && isErrorBody(body);
          if (!documentedError) invalidResponses.push(`${req.method} ${req.originalUrl}: ${err.message} ${JSON.stringify(body).slice(0, 300)}`);
        },
      },
      validateSecurity: false,
      $refParser: { mode: 'dereference' },
    }),
  );
  app.use((req, _res, next) => {
    received.push({ method: req.method, path: req.originalUrl, valid: true });
    next();
  });

  const find = (req: Request): Stored => {
    const stored = features.get(String(req.params.id));
    if (!stored) throw new Error('Could not find a feature with that key');
    return stored;
  };
  const publish = (stored: Stored, next: Json, comment: string) => {
    const version = Number((stored.feature.revision as Json).version) + 1;
    next.revision = { version, comment, date: new Date().toISOString(), createdBy: 'API', publishedBy: 'API' };
    next.dateUpdated = new Date().toISOString();
    stored.feature = next;
    stored.revisions.set(version, structuredClone(next));
    return { feature: next };
  };
  const handle = (fn: (req: Request) => unknown) => (req: Request, res: Response) => {
    try {
      res.json(fn(req));
    } catch (err) {
      fail(res, 400, (err as Error).message);
    }
  };

  const savedGroups = new Map<string, Json>();
  app.get('/api/v1/saved-groups/:id', handle((req) => {
    const group = savedGroups.get(String(req.params.id));
    if (!group) throw new Error('Could not find savedGroup with that id');
    return { savedGroup: group };
  }));
  app.get('/api/v1/environments', handle(() => ({
    environments: organization.map((e) => ({ id: e.id, description: '', toggleOnList: false, defaultState: e.defaultState, projects: [], ...(e.parent === undefined ? {} : { parent: e.parent }) })),
  })));
  app.get('/api/v1/features', handle((req) => {
    const all = [...features.values()].map((s) => s.feature);
    const limit = Number(req.query.limit ?? 10);
    const offset = Number(req.query.offset ?? 0);
    const page = all.slice(offset, offset + limit);
    return { features: page, limit, offset, count: page.length, total: all.length, hasMore: offset + limit < all.length, nextOffset: offset + limit < all.length ? offset + limit : null };
  }));
  app.get('/api/v1/features/:id', handle((req) => ({ feature: find(req).feature })));
  app.post('/api/v1/features', handle((req) => {
    const body = req.body as Json;
    const id = String(body.id);
    if (features.has(id)) throw new Error(`Feature id '${id}' already exists.`);
    if (!/^[a-zA-Z0-9_.:|-]+$/.test(id)) throw new Error('Feature keys can only include letters, numbers, hyphens, and underscores.');
    if (body.owner === undefined) throw new Error('owner is required when using a secret API key');
    const now = new Date().toISOString();
    const feature: Json = {
      id, dateCreated: now, dateUpdated: now, archived: body.archived ?? false, description: body.description ?? '', owner: body.owner, project: body.project ?? '',
      valueType: body.valueType, defaultValue: body.defaultValue, tags: body.tags ?? [], prerequisites: body.prerequisites ?? [],
      environments: environmentsOf(body, undefined), revision: { version: 1, comment: 'New feature', date: now, createdBy: 'API', publishedBy: 'API' },
    };
    features.set(id, { feature, revisions: new Map([[1, structuredClone(feature)]]) });
    return { feature };
  }));
  app.post('/api/v1/features/:id', handle((req) => {
    const stored = find(req);
    const { environments: _e, ignoreWarnings: _w, skipSchemaValidation: _s, skipHooks: _h, ...fields } = req.body as Json;
    return publish(stored, { ...structuredClone(stored.feature), ...fields, environments: environmentsOf(req.body as Json, stored.feature) }, 'Updated via REST API');
  }));
  app.delete('/api/v1/features/:id', handle((req) => {
    find(req);
    features.delete(String(req.params.id));
    return { deletedId: String(req.params.id) };
  }));
  app.post('/api/v1/features/:id/toggle', handle((req) => {
    const stored = find(req);
    const next = structuredClone(stored.feature);
    const envs = next.environments as Record<string, Json>;
    for (const [env, value] of Object.entries((req.body as Json).environments as Json)) {
      if (!ids.includes(env)) throw new Error(`Unknown environment: '${env}'`);
      envs[env]!.enabled = [true, 'true', '1', 1].includes(value as never);
    }
    return publish(stored, next, 'Toggled via REST API');
  }));
  app.post('/api/v1/features/:id/revert', handle((req) => {
    const stored = find(req);
    const target = stored.revisions.get(Number((req.body as Json).revision));
    if (!target) throw new Error('Could not find feature revision');
    return publish(stored, { ...structuredClone(target), dateCreated: stored.feature.dateCreated }, String((req.body as Json).comment ?? `Reverted to revision ${String((req.body as Json).revision)}`));
  }));
  app.use((err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    fail(res, err.status ?? 500, err.message);
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    invalidResponses,
    feature: (id) => structuredClone(features.get(id)?.feature),
    putSavedGroup(id, attributeKey, values) {
      const before = savedGroups.get(id);
      const now = new Date().toISOString();
      savedGroups.set(id, { id, type: 'list', name: id, owner: '', attributeKey, values, dateCreated: String(before?.dateCreated ?? now), dateUpdated: now });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function isErrorBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && Object.keys(body).length === 1 && typeof (body as Json).message === 'string';
}

function fail(res: Response, status: number, message: string): void {
  res.status(status).json({ message });
}

/**
 * Every organization environment, with the body's settings where it gives them (rules get ids); a
 * new feature is on where the environment's `defaultState` is. (Rules inherited from a parent are
 * not modelled: the double keeps each environment's own.)
 */
function settingsOf(organization: readonly DoubleEnvironment[], body: Json, current: Json | undefined): Json {
  const given = (body.environments ?? {}) as Record<string, Json>;
  for (const env of Object.keys(given)) if (!organization.some((e) => e.id === env)) throw new Error(`Unknown environment: '${env}'`);
  const out: Json = {};
  for (const { id: env, defaultState } of organization) {
    const before = (current?.environments as Record<string, Json> | undefined)?.[env] ?? { enabled: defaultState, defaultValue: String(body.defaultValue ?? ''), rules: [] };
    const settings = given[env];
    out[env] = settings === undefined ? before : {
      enabled: settings.enabled, defaultValue: String(current?.defaultValue ?? body.defaultValue ?? ''),
      rules: (settings.rules as Json[]).map((r, i) => ({ id: `fr_${env}_${i}`, description: '', enabled: true, ...r })),
    };
  }
  return out;
}
