/**
 * A LaunchDarkly REST API v2 double for tests (flags, and segments as flags read them), built from LaunchDarkly's published API
 * description: requests and responses are validated against that document with
 * express-openapi-validator, so the double answers in the documented shapes and status codes.
 *
 * The document declares only `application/json` for a flag update, while its description says the
 * same operation takes a JSON merge patch (`application/merge-patch+json`) and a semantic patch
 * (`application/json; domain-model=launchdarkly.semanticpatch`); the double adds those two media
 * types to that one operation, with the body shapes the description gives.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { parse as parseYaml } from 'yaml';

type Json = Record<string, unknown>;

export const LD_DIR = resolve(import.meta.dirname, '../../fixtures/launchdarkly');
export const ENVIRONMENTS = ['production', 'test'] as const;

export interface LaunchDarklyDouble {
  url: string;
  /** The stored flag (a copy), or undefined. */
  flag(project: string, key: string): Json | undefined;
  /**
   * Stores a segment of `project` in `env` (a UserSegment as the document gives it), or replaces it
   * with its `version` raised, as LaunchDarkly does on each change.
   */
  putSegment(project: string, env: string, key: string, segment: { name: string; included?: string[]; rules?: Json[] }): void;
  /** Requests the double received: method, path, Content-Type. */
  received: Array<{ method: string; path: string; contentType: string | undefined }>;
  stop(): Promise<void>;
}

let spec: Json | undefined;

/** The flag operations of the document and the components they reference, plus the two update media types. */
function apiSpec(): Json {
  if (spec) return spec;
  const full = parseYaml(readFileSync(join(LD_DIR, 'openapi.yaml'), 'utf8')) as Json & { paths: Record<string, Json>; components: { schemas: Record<string, unknown> } };
  const paths: Record<string, unknown> = {
    '/api/v2/flags/{projectKey}': full.paths['/api/v2/flags/{projectKey}'],
    '/api/v2/flags/{projectKey}/{featureFlagKey}': full.paths['/api/v2/flags/{projectKey}/{featureFlagKey}'],
    '/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}': { get: full.paths['/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}']!.get },
  };
  const narrowed = structuredClone(paths) as Record<string, Record<string, Json>>;
  const content = (narrowed['/api/v2/flags/{projectKey}/{featureFlagKey}']!.patch!.requestBody as { content: Record<string, unknown> }).content;
  content['application/merge-patch+json'] = {
    schema: { oneOf: [{ type: 'object', required: ['patch'], additionalProperties: false, properties: { patch: { type: 'object' }, comment: { type: 'string' } } }, { type: 'object', not: { required: ['patch'] } }] },
  };
  content['application/json; domain-model=launchdarkly.semanticpatch'] = {
    schema: {
      type: 'object', required: ['instructions'], additionalProperties: false,
      properties: { environmentKey: { type: 'string' }, comment: { type: 'string' }, instructions: { type: 'array', minItems: 1, items: { type: 'object', required: ['kind'], properties: { kind: { type: 'string' } } } } },
    },
  };
  // Only the components these operations reference, whatever their kind (schemas, responses, …).
  const components: Record<string, Record<string, unknown>> = {};
  const all = full.components as unknown as Record<string, Record<string, unknown>>;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const o = node as Json;
    const ref = typeof o.$ref === 'string' ? /^#\/components\/([^/]+)\/([^/]+)$/.exec(o.$ref) : null;
    if (ref) {
      const [, kind, name] = ref as unknown as [string, string, string];
      components[kind] ??= {};
      if (!(name in components[kind])) {
        components[kind][name] = structuredClone(all[kind]![name]);
        visit(components[kind][name]);
      }
    }
    Object.values(o).forEach(visit);
  };
  visit(narrowed);
  spec = { ...full, paths: narrowed, components: { ...components, securitySchemes: all.securitySchemes } };
  return spec;
}

export async function startLaunchDarklyDouble(options: { token: string; /** The most flags one page of the flag list holds, whatever `limit` asks. */ pageCap?: number }): Promise<LaunchDarklyDouble> {
  const flags = new Map<string, Json>();
  const received: LaunchDarklyDouble['received'] = [];
  const app = express();
  app.use((req, _res, next) => {
    received.push({ method: req.method, path: req.originalUrl, contentType: req.headers['content-type'] });
    next();
  });
  app.use((req, res, next) => (req.headers.authorization === options.token ? next() : fail(res, 401, 'unauthorized', 'Invalid access token')));
  app.use(express.json({ type: ['application/json', 'application/merge-patch+json'], strict: false }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(apiSpec()) as never,
      validateApiSpec: false,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: { removeAdditional: false },
      validateSecurity: false,
      $refParser: { mode: 'dereference' },
    }),
  );

  const segments = new Map<string, Json>();
  app.get('/api/v2/segments/:projectKey/:environmentKey/:segmentKey', (req, res) => {
    const segment = segments.get(`${String(req.params.projectKey)}/${String(req.params.environmentKey)}/${String(req.params.segmentKey)}`);
    return segment ? res.json(segment) : fail(res, 404, 'not_found', 'Unknown resource');
  });
  const id = (req: Request) => `${String(req.params.projectKey)}/${String(req.params.featureFlagKey)}`;
  app.post('/api/v2/flags/:projectKey', (req, res) => {
    const body = req.body as Json;
    const key = `${req.params.projectKey}/${String(body.key)}`;
    if (flags.has(key)) return fail(res, 409, 'conflict', `A flag with key ${String(body.key)} already exists`);
    const flag = newFlag(body);
    flags.set(key, flag);
    res.status(201).json(flag);
  });
  // The project's flags, a page at a time; with `env` only that environment's configuration, whose
  // prerequisites, targets and rules are left out unless `summary=0` (the description's list).
  app.get('/api/v2/flags/:projectKey', (req, res) => {
    const limit = Math.min(Number(req.query.limit ?? 20), options.pageCap ?? Infinity);
    const offset = Number(req.query.offset ?? 0);
    const env = typeof req.query.env === 'string' ? req.query.env : undefined;
    // (The validator has read the query to its types: `summary` is a boolean by now.)
    const full = ['false', '0'].includes(String(req.query.summary));
    const all = [...flags.entries()].filter(([k]) => k.startsWith(`${String(req.params.projectKey)}/`)).map(([, f]) => f);
    const shown = (flag: Json): Json => {
      const environments = flag.environments as Record<string, Json>;
      const kept = env === undefined ? environments : env in environments ? { [env]: environments[env]! } : {};
      const summarized = Object.fromEntries(Object.entries(kept).map(([k, c]) => {
        const { prerequisites: _p, targets: _t, contextTargets: _c, rules: _r, ...rest } = c;
        return [k, full ? c : rest];
      }));
      return { ...flag, environments: summarized };
    };
    res.json({ _links: { self: { href: req.originalUrl, type: 'application/json' } }, totalCount: all.length, items: all.slice(offset, offset + limit).map(shown) });
  });
  app.get('/api/v2/flags/:projectKey/:featureFlagKey', (req, res) => {
    const flag = flags.get(id(req));
    if (!flag) return fail(res, 404, 'not_found', 'Unknown resource');
    const env = typeof req.query.env === 'string' ? req.query.env : undefined;
    if (env === undefined) return res.json(flag);
    const environments = flag.environments as Record<string, unknown>;
    res.json({ ...flag, environments: env in environments ? { [env]: environments[env] } : {} });
  });
  app.delete('/api/v2/flags/:projectKey/:featureFlagKey', (req, res) => {
    if (!flags.delete(id(req))) return fail(res, 404, 'not_found', 'Unknown resource');
    res.status(204).end();
  });
  app.patch('/api/v2/flags/:projectKey/:featureFlagKey', (req, res) => {
    const flag = flags.get(id(req));
    if (!flag) return fail(res, 404, 'not_found', 'Unknown resource');
    const type = String(req.headers['content-type']);
    let next: Json;
    try {
      if (type.includes('domain-model=launchdarkly.semanticpatch')) next = applySemantic(flag, req.body as Json);
      else if (type.startsWith('application/merge-patch+json')) {
        const body = req.body as Json;
        next = mergePatch(flag, ('merge' in body ? body.merge : body) as Json) as Json;
      } else {
        const body = req.body as Json | Json[];
        next = applyJsonPatch(flag, Array.isArray(body) ? body : (body.patch as Json[]));
      }
    } catch (err) {
      return fail(res, 400, 'invalid_request', (err as Error).message);
    }
    next._version = Number(flag._version) + 1;
    flags.set(id(req), next);
    res.json(next);
  });
  app.use((err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? 500;
    fail(res, status, status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : status >= 500 ? 'internal_server_error' : 'invalid_request', err.message);
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    flag: (project, key) => structuredClone(flags.get(`${project}/${key}`)),
    putSegment(project, env, key, segment) {
      const before = segments.get(`${project}/${env}/${key}`);
      segments.set(`${project}/${env}/${key}`, {
        _links: { self: { href: `/api/v2/segments/${project}/${env}/${key}`, type: 'application/json' } }, creationDate: Number(before?.creationDate ?? Date.now()), lastModifiedDate: Date.now(),
        deleted: false, generation: 1, key, name: segment.name, tags: [], version: Number(before?.version ?? 0) + 1, included: segment.included ?? [], excluded: [], rules: segment.rules ?? [],
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ code, message });
}

function newFlag(body: Json): Json {
  const variations = (Array.isArray(body.variations) && body.variations.length > 0 ? body.variations : [{ value: true }, { value: false }]) as Json[];
  const environments: Json = {};
  for (const env of ENVIRONMENTS) {
    environments[env] = {
      _environmentName: env, _site: { href: `/default/${env}/features/${String(body.key)}`, type: 'text/html' }, archived: false, lastModified: Date.now(),
      on: body.isFlagOn === true, salt: randomUUID().replace(/-/g, ''), sel: randomUUID().replace(/-/g, ''), trackEvents: false, trackEventsFallthrough: false, version: 1,
      targets: [], contextTargets: [], rules: [], fallthrough: { variation: 0 }, offVariation: variations.length - 1, prerequisites: [],
    };
  }
  return {
    _links: { self: { href: `/api/v2/flags/default/${String(body.key)}`, type: 'application/json' } }, _version: 1, archived: false, creationDate: Date.now(),
    customProperties: {}, experiments: { baselineIdx: 0, items: [] }, key: body.key, kind: variations.every((v) => typeof v.value === 'boolean') ? 'boolean' : 'multivariate',
    name: body.name, description: body.description ?? '', tags: body.tags ?? [], temporary: body.temporary ?? true, includeInSnippet: false, deprecated: false,
    variations: variations.map((v) => ({ _id: randomUUID(), ...v })), environments,
  };
}

// RFC 6902, the operations flag tools send (add, remove, replace, test).
function applyJsonPatch(flag: Json, ops: Json[]): Json {
  const doc = structuredClone(flag);
  for (const op of ops) {
    const parts = String(op.path).split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    let parent: unknown = doc;
    for (const p of parts) {
      parent = (parent as Record<string, unknown>)?.[p];
      if (typeof parent !== 'object' || parent === null) throw new Error(`path ${String(op.path)} does not exist`);
    }
    if (last === undefined) throw new Error('cannot patch the whole flag');
    const container = parent as Record<string, unknown> & unknown[];
    if (op.op === 'test') {
      if (JSON.stringify(container[last as never]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${String(op.path)}`);
    } else if (op.op === 'remove') {
      if (Array.isArray(container)) container.splice(Number(last), 1);
      else delete container[last];
    } else if (op.op === 'add' && Array.isArray(container)) {
      container.splice(last === '-' ? container.length : Number(last), 0, op.value);
    } else if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(last in container)) throw new Error(`path ${String(op.path)} does not exist`);
      (container as Record<string, unknown>)[last] = op.value;
    } else throw new Error(`op ${String(op.op)} is not supported`);
  }
  return doc;
}

// RFC 7386.
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The instructions the description documents that flag tools use most. */
function applySemantic(flag: Json, body: Json): Json {
  const doc = structuredClone(flag);
  const envs = doc.environments as Record<string, Json>;
  const variationIndex = (id: unknown) => {
    const i = (doc.variations as Json[]).findIndex((v) => v._id === id);
    if (i === -1) throw new Error(`unknown variation ${String(id)}`);
    return i;
  };
  const envConfig = () => {
    const key = body.environmentKey;
    if (typeof key !== 'string' || !envs[key]) throw new Error('environmentKey is required for this instruction and must name an environment');
    return envs[key];
  };
  const served = (ins: Json) => (ins.rolloutWeights ? { rollout: { variations: Object.entries(ins.rolloutWeights as Json).map(([id, weight]) => ({ variation: variationIndex(id), weight })), bucketBy: ins.rolloutBucketBy } } : { variation: variationIndex(ins.variationId) });
  for (const ins of body.instructions as Json[]) {
    switch (ins.kind) {
      case 'turnFlagOn':
      case 'turnFlagOff':
        envConfig().on = ins.kind === 'turnFlagOn';
        break;
      case 'updateFallthroughVariationOrRollout':
        envConfig().fallthrough = served(ins);
        break;
      case 'updateOffVariation':
        envConfig().offVariation = variationIndex(ins.variationId);
        break;
      case 'addRule': {
        const env = envConfig();
        (env.rules as Json[]).push({ _id: randomUUID(), clauses: (ins.clauses as Json[]).map((c) => ({ _id: randomUUID(), ...c })), trackEvents: false, description: ins.description ?? '', ...served(ins) });
        break;
      }
      case 'addTargets': {
        const env = envConfig();
        const variation = variationIndex(ins.variationId);
        const list = (ins.contextKind && ins.contextKind !== 'user' ? env.contextTargets : env.targets) as Json[];
        const existing = list.find((t) => t.variation === variation && (t.contextKind ?? 'user') === (ins.contextKind ?? 'user'));
        if (existing) existing.values = [...new Set([...(existing.values as string[]), ...(ins.values as string[])])];
        else list.push({ variation, values: ins.values, contextKind: ins.contextKind ?? 'user' });
        break;
      }
      case 'archiveFlag':
        doc.archived = true;
        break;
      case 'restoreFlag':
        doc.archived = false;
        break;
      case 'updateName':
        doc.name = ins.value;
        break;
      case 'updateDescription':
        doc.description = ins.value;
        break;
      default:
        throw new Error(`unknown instruction kind ${String(ins.kind)}`);
    }
  }
  for (const env of Object.values(envs)) env.version = Number(env.version) + 1;
  return doc;
}
