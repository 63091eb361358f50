/**
 * A Flagsmith admin API double for tests, built from a real Flagsmith 2.265.0: every request is
 * validated against the OpenAPI document that server generated (express-openapi-validator, which
 * reads OpenAPI 3.1 with Ajv, rather than checks written by hand that could drift from the
 * document), then answered one of two ways:
 *
 * - `replay`: the recorded exchanges in order. A request that is the next recorded one (method,
 *   path and query, credential scheme, body) gets that recorded answer, byte for byte in status,
 *   Content-Type and body; anything else is a test failure (599).
 * - `model`: a small in-memory Flagsmith (one project, the recorded Development and Production
 *   environments, features, environment feature states, identity overrides and the `__future__`
 *   flag view) answering in the recorded shapes, for end-to-end tests that read changes back.
 *
 * Each answer says in `x-double-openapi` whether the request was valid for the document.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { FLAGSMITH_DIR, loadRecordings, wireBody, type Recording } from './recordings.js';

type Json = Record<string, unknown>;

export interface FlagsmithDouble {
  url: string;
  /** Requests the double received, with the OpenAPI verdict. */
  received: Array<{ method: string; path: string; openapi: string }>;
  /** Model mode: the feature state of `featureName` in the environment `envKey`. */
  featureState(envKey: string, featureName: string): { enabled: boolean; value: unknown } | undefined;
  /**
   * Model mode: makes `envKey` a versioned environment (`use_v2_feature_versioning`) and gives
   * `featureName` there a version that is not live: published to go live at `liveFrom`, or a draft
   * (`liveFrom` null). The model does not refuse the unversioned routes there, as Flagsmith does.
   */
  addVersion(envKey: string, featureName: string, liveFrom: string | null): void;
  stop(): Promise<void>;
}

export interface DoubleOptions {
  mode: 'replay' | 'model';
  /** Model mode: whole Authorization values that authenticate (`Api-Key …`, `Token …`). */
  credentials?: readonly string[];
  /** Model mode: the project's `prevent_flag_defaults` (new features start off and valueless in every environment). */
  preventFlagDefaults?: boolean;
  /**
   * Model mode: segments of project 1 besides the recorded ones, answered as given (a real Flagsmith
   * returns a segment's rules and conditions in no fixed order unless told to order them).
   */
  segments?: Json[];
}

export const DEV_KEY = 'cixtMCKvBWcWy75rGMTNRL';
export const PROD_KEY = 'cSBwQgGe8Gu8ia9BzS853k';

let spec: Json | undefined;

/** Paths the model serves beyond those the recordings use. */
const MODEL_PATHS = ['/api/v1/projects/', '/api/v1/projects/1/', '/api/v1/environments/1/features/1/versions/', '/api/v1/projects/1/segments/1/', '/api/v1/environments/'];

/**
 * The document as served, narrowed to the operations the double answers (those the recordings and
 * the model use) and the components they reference, unchanged: validating against all 288 paths
 * costs seconds per route. Two adjustments: drf-spectacular gives read-only properties a `default`,
 * and Ajv's defaults would then put read-only fields into every request it checks; and the versions
 * list's `is_live` filter, which the document leaves out (`addVersionsFilter`).
 */
function apiSpec(): Json {
  if (spec) return spec;
  const full = JSON.parse(readFileSync(join(FLAGSMITH_DIR, 'openapi.json'), 'utf8')) as Json & { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  const used = [...loadRecordings().map((r) => r.request.path.split('?')[0]!), ...MODEL_PATHS];
  const paths: Record<string, unknown> = {};
  for (const [template, item] of Object.entries(full.paths)) {
    const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (used.some((p) => re.test(p))) paths[template] = item;
  }
  const schemas: Record<string, unknown> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const o = node as Json;
    if (o.readOnly === true) delete o.default;
    if (typeof o.$ref === 'string' && o.$ref.startsWith('#/components/schemas/')) {
      const name = o.$ref.slice('#/components/schemas/'.length);
      if (!(name in schemas)) {
        schemas[name] = structuredClone(full.components.schemas[name]);
        visit(schemas[name]);
      }
    }
    Object.values(o).forEach(visit);
  };
  const narrowed = structuredClone(paths);
  visit(narrowed);
  addVersionsFilter(narrowed);
  spec = { ...full, paths: narrowed, components: { ...full.components, schemas } };
  return spec;
}

/**
 * The versions list takes `is_live` (EnvironmentFeatureVersionQuerySerializer, read in the view's
 * get_queryset in features/versioning/views.py), which the generated document leaves out: the real
 * server answered `?is_live=false` (105 in test/fixtures/flagsmith/local/).
 */
function addVersionsFilter(paths: Record<string, unknown>): void {
  const list = (paths['/api/v1/environments/{environment_pk}/features/{feature_pk}/versions/'] as { get: { parameters: unknown[] } } | undefined)?.get;
  list?.parameters.push({ name: 'is_live', required: false, in: 'query', schema: { type: 'boolean', nullable: true } });
}

export async function startFlagsmithDouble(options: DoubleOptions): Promise<FlagsmithDouble> {
  const app = express();
  const received: FlagsmithDouble['received'] = [];
  app.use(express.text({ type: () => true, limit: '1mb' }));
  // Parsed here (not by express.json) so a malformed body still reaches the replay.
  app.use((req: Request & { rawBody?: string }, _res, next) => {
    req.rawBody = typeof req.body === 'string' ? req.body : '';
    try {
      req.body = req.rawBody === '' ? undefined : JSON.parse(req.rawBody);
    } catch {
      (req as Request & { malformed?: boolean }).malformed = true;
      req.body = undefined;
    }
    next();
  });
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(apiSpec()) as never,
      validateApiSpec: false, // the document names security schemes with spaces, which 3.1's schema disallows
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: false,
      validateSecurity: false,
      ignoreUndocumented: false,
      $refParser: { mode: 'dereference' },
    }),
  );
  app.use((err: { status?: number; message: string }, req: Request & { verdict?: string }, _res: Response, next: NextFunction) => {
    req.verdict = `invalid: ${err.message}`;
    next();
  });
  app.use((req: Request & { verdict?: string; malformed?: boolean }, _res, next) => {
    req.verdict ??= req.malformed ? 'invalid: malformed JSON' : 'valid';
    received.push({ method: req.method, path: req.originalUrl, openapi: req.verdict });
    next();
  });

  const model = options.mode === 'model' ? createModel() : undefined;
  if (options.mode === 'replay') app.use(replayer(loadRecordings()));
  else app.use(modelHandler(model!, new Set(options.credentials ?? []), { ...recordedProject(), prevent_flag_defaults: options.preventFlagDefaults ?? false }, [...recordedSegments(), ...(options.segments ?? [])]));

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    featureState(envKey, featureName) {
      const feature = model?.features.find((f) => f.name === featureName);
      const env = ENVIRONMENTS.find((e) => e.api_key === envKey);
      const state = feature && env ? model!.states.find((s) => s.feature === feature.id && s.environment === env.id && s.identity === null && s.feature_segment === null) : undefined;
      return state ? { enabled: state.enabled as boolean, value: state.feature_state_value } : undefined;
    },
    addVersion(envKey, featureName, liveFrom) {
      const feature = model?.features.find((f) => f.name === featureName);
      const env = ENVIRONMENTS.find((e) => e.api_key === envKey);
      if (!feature || !env) throw new Error(`the model has no feature ${featureName} in ${envKey}`);
      model!.versioned.add(env.id);
      model!.versions.push({ environment: env.id, feature: feature.id, created_at: now(), updated_at: now(), published: liveFrom !== null, live_from: liveFrom, uuid: randomUUID(), is_live: false, published_by: null, created_by: null, description: null });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(res: Response, req: Request, status: number, body: unknown, contentType: string | null = 'application/json'): void {
  res.setHeader('x-double-openapi', (req as Request & { verdict?: string }).verdict ?? 'valid');
  res.status(status);
  if (body === null || body === undefined) {
    res.end();
    return;
  }
  if (contentType) res.setHeader('content-type', contentType);
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function schemeOf(header: string | undefined): string | null {
  return header === undefined ? null : (header.split(' ')[0] ?? null);
}

/** Answers the recordings in order; anything else than the next one is a 599. */
function replayer(recordings: Recording[]) {
  let next = 0;
  return (req: Request & { rawBody?: string }, res: Response) => {
    const r = recordings[next];
    const want = r && {
      method: r.request.method,
      path: r.request.path,
      scheme: schemeOf(r.request.headers.Authorization),
      body: wireBody(r) ?? '',
    };
    const got = { method: req.method, path: req.originalUrl, scheme: schemeOf(req.headers.authorization), body: req.rawBody ?? '' };
    if (!want || JSON.stringify(want) !== JSON.stringify(got)) {
      send(res, req, 599, { double: 'not the next recorded request', expected: want ?? null, got });
      return;
    }
    next++;
    send(res, req, r.response.status, r.response.body, r.response.headers['Content-Type'] ?? null);
  };
}

// ---------------------------------------------------------------------------------------------
// Model mode

/** The project as the real server created it (its answer to the recorded project create). */
function recordedProject(): Json {
  const created = loadRecordings().find((r) => r.request.method === 'POST' && r.request.path === '/api/v1/projects/');
  if (!created) throw new Error('no recorded project create');
  return created.response.body as Json;
}
function recordedSegments(): Json[] {
  return loadRecordings().filter((r) => r.request.method === 'POST' && r.request.path === '/api/v1/projects/1/segments/' && r.response.status === 201).map((r) => r.response.body as Json);
}
const ENVIRONMENTS = [
  { id: 1, name: 'Development', api_key: DEV_KEY, project: 1 },
  { id: 2, name: 'Production', api_key: PROD_KEY, project: 1 },
];

interface Model {
  features: Json[];
  states: Json[];
  /** Segment overrides' feature segments (each with the state that serves it, `feature_segment` there). */
  featureSegments: Json[];
  /** Versions not live yet, in versioned environments (each with its `environment` and `feature`). */
  versions: Json[];
  versioned: Set<number>;
  nextFeature: number;
  nextState: number;
  nextFeatureSegment: number;
}

function createModel(): Model {
  return { features: [], states: [], featureSegments: [], versions: [], versioned: new Set(), nextFeature: 1, nextState: 1, nextFeatureSegment: 1 };
}

const now = () => new Date().toISOString().replace(/(\.\d{3})Z$/, '$1000Z');

function featureBody(f: Json): Json {
  return {
    ...f,
    environment_feature_state: null, segment_feature_state: null, code_references_counts: [], num_segment_overrides: 0, num_identity_overrides: null,
    is_num_identity_overrides_complete: true, last_modified_in_any_environment: null, last_modified_in_current_environment: null,
  };
}

function stateBody(s: Json): Json {
  const { feature_state_value, multivariate_feature_state_values, identity, ...rest } = s;
  return { id: rest.id, feature_state_value, multivariate_feature_state_values, identity: identity === null ? null : { id: identity, identifier: `user-${String(identity)}` }, ...rest };
}

/**
 * What each environment serves of a feature's `initial_value` (Flagsmith's `get_value_type`): a
 * 32-bit integer as that integer, "true"/"True"/"false"/"False" as the boolean, any other text as is
 * (a real 2.265.0 served "12" as 12).
 */
function servedValue(initial: unknown): unknown {
  if (typeof initial !== 'string') return initial ?? null;
  if (/^-?[0-9]+$/.test(initial) && Math.abs(Number(initial)) < 2_147_483_647) return Number(initial);
  if (['true', 'True', 'false', 'False'].includes(initial)) return initial.toLowerCase() === 'true';
  return initial;
}

/** A value as Flagsmith's value object writes it: its type, and the member of that type. */
function valueObject(v: unknown): Json {
  const members = { string_value: null, integer_value: null, boolean_value: null };
  if (typeof v === 'number') return { type: 'int', ...members, integer_value: v };
  if (typeof v === 'boolean') return { type: 'bool', ...members, boolean_value: v };
  return { type: 'unicode', ...members, string_value: v ?? null };
}

const isObjectValue = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function typedValue(v: unknown): Json {
  if (typeof v === 'boolean') return { type: 'boolean', value: String(v) };
  if (typeof v === 'number') return { type: 'integer', value: String(v) };
  return { type: 'string', value: v === null || v === undefined ? '' : String(v) };
}

function modelHandler(m: Model, credentials: ReadonlySet<string>, project: Json, segments: readonly Json[]) {
  const router = express.Router();
  router.use((req, res, next) => {
    const auth = req.headers.authorization;
    if (auth === undefined) return send(res, req, 401, { detail: 'Authentication credentials were not provided.' });
    if (credentials.has(auth)) return next();
    const scheme = schemeOf(auth);
    if (scheme === 'Api-Key') return send(res, req, 401, { detail: 'Valid Master API Key not found.' });
    if (scheme === 'Token') return send(res, req, 401, { detail: 'Invalid token.' });
    return send(res, req, 401, { detail: 'Authentication credentials were not provided.' });
  });
  router.use((req: Request & { verdict?: string }, res, next) => {
    if (req.verdict?.startsWith('invalid')) return send(res, req, 400, { detail: req.verdict });
    next();
  });

  const envOf = (key: string) => ENVIRONMENTS.find((e) => e.api_key === key);
  const feature = (id: string) => m.features.find((f) => String(f.id) === id);
  const notFound = (req: Request, res: Response, what = 'Not found.') => send(res, req, 404, { detail: what });
  const page = (rows: Json[]) => ({ count: rows.length, next: null, previous: null, results: rows });

  router.get('/api/v1/projects/', (req, res) => send(res, req, 200, [project]));
  router.get('/api/v1/projects/1/', (req, res) => send(res, req, 200, project));
  // One page: the model has two environments, the real server lists ten a page (109).
  router.get('/api/v1/environments/', (req, res) => {
    const wanted = ENVIRONMENTS.filter((e) => req.query.project === undefined || String(e.project) === String(req.query.project));
    if (req.query.page !== undefined && String(req.query.page) !== '1') return notFound(req, res, 'Invalid page.');
    send(res, req, 200, page(wanted.map((env) => ({ ...env, use_v2_feature_versioning: m.versioned.has(env.id) }))));
  });
  router.get('/api/v1/environments/:key/', (req, res) => {
    const env = envOf(req.params.key!);
    return env ? send(res, req, 200, { ...env, use_v2_feature_versioning: m.versioned.has(env.id) }) : notFound(req, res, 'No Environment matches the given query.');
  });
  // Only versions not live are modelled (104-106 in test/fixtures/flagsmith/local/).
  router.get('/api/v1/environments/:envId/features/:id/versions/', (req, res) => {
    if (!feature(req.params.id!)) return notFound(req, res, 'No Feature matches the given query.');
    if (String(req.query.is_live) !== 'false') return send(res, req, 501, { double: 'only versions not live are modelled' });
    const rows = m.versions.filter((v) => String(v.environment) === req.params.envId && String(v.feature) === req.params.id).reverse();
    send(res, req, 200, page(rows.map(({ environment: _e, feature: _f, ...v }) => v)));
  });
  router.get('/api/v1/projects/1/features/', (req, res) => {
    const search = typeof req.query.search === 'string' ? req.query.search : '';
    send(res, req, 200, page(m.features.filter((f) => String(f.name).includes(search)).map(featureBody)));
  });
  router.post('/api/v1/projects/1/features/', (req, res) => {
    const body = req.body as Json;
    // Names are unique without regard to case (059; and a real 2.265.0 refused "CMP_x" beside "cmp_x").
    if (m.features.some((f) => String(f.name).toLowerCase() === String(body.name).toLowerCase())) return send(res, req, 400, { name: ['Feature with that name already exists for this project. Note that feature names are case insensitive.'] });
    const f: Json = {
      id: m.nextFeature++, name: body.name, type: body.type ?? 'STANDARD', default_enabled: body.default_enabled ?? false, initial_value: body.initial_value ?? null,
      created_date: now(), description: body.description ?? null, tags: [], multivariate_options: [], is_archived: false, owners: [], group_owners: [],
      uuid: randomUUID(), project: 1, is_server_key_only: false, metadata: [],
    };
    m.features.push(f);
    // A project that prevents flag defaults starts each environment off and without a value.
    const defaults = project.prevent_flag_defaults !== true;
    for (const env of ENVIRONMENTS) {
      m.states.push({ id: m.nextState++, feature_state_value: defaults ? servedValue(f.initial_value) : null, multivariate_feature_state_values: [], identity: null, deleted_at: null, uuid: randomUUID(),
        enabled: defaults ? f.default_enabled : false, created_at: now(), updated_at: now(), live_from: now(), version: 1, feature: f.id, environment: env.id, feature_segment: null,
        change_request: null, environment_feature_version: null });
    }
    send(res, req, 201, featureBody(f));
  });
  router.get('/api/v1/projects/1/features/:id/', (req, res) => {
    const f = feature(req.params.id!);
    return f ? send(res, req, 200, featureBody(f)) : notFound(req, res, 'No Feature matches the given query.');
  });
  const updateFeature = (req: Request, res: Response) => {
    const f = feature(String(req.params.id));
    if (!f) return notFound(req, res, 'No Feature matches the given query.');
    const { name: _name, ...changes } = req.body as Json;
    Object.assign(f, changes);
    send(res, req, 200, featureBody(f));
  };
  router.put('/api/v1/projects/1/features/:id/', updateFeature);
  router.patch('/api/v1/projects/1/features/:id/', updateFeature);
  router.delete('/api/v1/projects/1/features/:id/', (req, res) => {
    const f = feature(req.params.id!);
    if (!f) return notFound(req, res, 'No Feature matches the given query.');
    m.features.splice(m.features.indexOf(f), 1);
    m.states = m.states.filter((s) => s.feature !== f.id);
    send(res, req, 204, null);
  });

  const envStates = (key: string) => m.states.filter((s) => s.environment === envOf(key)?.id && s.identity === null && s.feature_segment === null);
  router.get('/api/v1/environments/:key/featurestates/', (req, res) => {
    if (!envOf(req.params.key!)) return send(res, req, 403, { detail: 'You do not have permission to perform this action.' });
    const want = req.query.feature;
    send(res, req, 200, page(envStates(req.params.key!).filter((s) => want === undefined || String(s.feature) === String(want)).map(stateBody)));
  });
  router.get('/api/v1/environments/:key/featurestates/:id/', (req, res) => {
    const s = envStates(req.params.key!).find((x) => String(x.id) === req.params.id);
    if (!s) return notFound(req, res, 'No FeatureState matches the given query.');
    const { identity: _i, ...rest } = stateBody(s);
    send(res, req, 200, { ...rest, identity: null });
  });
  const updateState = (req: Request, res: Response) => {
    const s = envStates(String(req.params.key)).find((x) => String(x.id) === req.params.id);
    if (!s) return notFound(req, res, 'No FeatureState matches the given query.');
    const body = req.body as Json;
    if (body.enabled !== undefined) s.enabled = body.enabled;
    if (body.feature_state_value !== undefined) s.feature_state_value = body.feature_state_value;
    s.updated_at = now();
    send(res, req, 200, { feature: s.feature, enabled: s.enabled });
  };
  router.put('/api/v1/environments/:key/featurestates/:id/', updateState);
  router.patch('/api/v1/environments/:key/featurestates/:id/', updateState);

  const identityStates = (key: string, identity: string) => m.states.filter((s) => s.environment === envOf(key)?.id && String(s.identity) === identity);
  router.get('/api/v1/environments/:key/identities/:identity/featurestates/', (req, res) => send(res, req, 200, page(identityStates(req.params.key!, req.params.identity!).map(stateBody))));
  router.post('/api/v1/environments/:key/identities/:identity/featurestates/', (req, res) => {
    const body = req.body as Json;
    const env = envOf(req.params.key!);
    if (!env || !m.features.some((f) => f.id === body.feature)) return send(res, req, 400, { feature: ['Invalid pk - object does not exist.'] });
    // One override per identity and feature (a real 2.265.0 answered a second one so).
    if (identityStates(req.params.key!, req.params.identity!).some((x) => x.feature === body.feature)) {
      return send(res, req, 400, ["['Feature state already exists for this environment, feature, version, segment & identity combination']"]);
    }
    const s: Json = { id: m.nextState++, feature_state_value: body.feature_state_value ?? null, multivariate_feature_state_values: [], identity: Number(req.params.identity), deleted_at: null,
      uuid: randomUUID(), enabled: body.enabled ?? false, created_at: now(), updated_at: now(), live_from: now(), version: 1, feature: body.feature, environment: env.id,
      feature_segment: null, change_request: null, environment_feature_version: null };
    m.states.push(s);
    const { identity, ...rest } = stateBody(s);
    send(res, req, 201, { ...rest, identity: (identity as Json).id });
  });
  router.delete('/api/v1/environments/:key/identities/:identity/featurestates/:id/', (req, res) => {
    const s = identityStates(req.params.key!, req.params.identity!).find((x) => String(x.id) === req.params.id);
    if (!s) return notFound(req, res, 'No FeatureState matches the given query.');
    m.states.splice(m.states.indexOf(s), 1);
    send(res, req, 204, null);
  });

  // Segment overrides, in the recorded shapes (027, 028, 031, 032): a feature segment's own answer
  // does not name its feature; the states list, filtered by it, does.
  router.post('/api/v1/environments/:key/features/:id/create-segment-override/', (req, res) => {
    const env = envOf(req.params.key!);
    const f = feature(req.params.id!);
    const body = req.body as Json & { feature_segment?: Json };
    if (!env || !f) return notFound(req, res);
    const fs: Json = { id: m.nextFeatureSegment++, uuid: randomUUID(), segment: body.feature_segment?.segment, priority: 0, environment: env.id, segment_name: `segment-${String(body.feature_segment?.segment)}`, is_feature_specific: false };
    m.featureSegments.push(fs);
    const value = isObjectValue(body.feature_state_value) ? body.feature_state_value.string_value ?? null : body.feature_state_value ?? null;
    const s: Json = { id: m.nextState++, feature_state_value: value, multivariate_feature_state_values: [], identity: null, deleted_at: null, uuid: randomUUID(), enabled: body.enabled ?? false,
      created_at: now(), updated_at: now(), live_from: now(), version: 1, feature: f.id, environment: env.id, feature_segment: fs.id, change_request: null, environment_feature_version: null };
    m.states.push(s);
    send(res, req, 201, { ...stateBody(s), identity: null, feature_segment: { id: fs.id, segment: fs.segment, priority: fs.priority, uuid: fs.uuid } });
  });
  router.get('/api/v1/features/featurestates/', (req, res) => {
    const { environment, feature: wanted, feature_segment: segment } = req.query;
    if (environment === undefined) return send(res, req, 400, ["'environment' GET parameter is required."]);
    const rows = m.states.filter((s) => String(s.environment) === String(environment) && (wanted === undefined || String(s.feature) === String(wanted)) && (segment === undefined || String(s.feature_segment) === String(segment)));
    // This list gives each value as an object (103), unlike the environment's own list; ten a page,
    // as Django REST framework's PageNumberPagination with Flagsmith's PAGE_SIZE.
    const n = Number(req.query.page ?? 1);
    if (!(n >= 1) || (n - 1) * 10 >= Math.max(rows.length, 1)) return notFound(req, res, 'Invalid page.');
    const shown = rows.slice((n - 1) * 10, n * 10).map((s) => ({ ...stateBody(s), feature_state_value: valueObject(s.feature_state_value), identity: s.identity }));
    send(res, req, 200, { count: rows.length, next: n * 10 < rows.length ? `http://flagsmith${req.path}?page=${n + 1}` : null, previous: n > 1 ? `http://flagsmith${req.path}?page=${n - 1}` : null, results: shown });
  });
  // The project's segments as the recordings created them (024, 025; a GET answers in that shape, 107).
  router.get('/api/v1/projects/1/segments/:id/', (req, res) => {
    const segment = segments.find((x) => String(x.id) === req.params.id);
    return segment ? send(res, req, 200, segment) : notFound(req, res, 'No Segment matches the given query.');
  });
  router.get('/api/v1/features/feature-segments/:id/', (req, res) => {
    const fs = m.featureSegments.find((x) => String(x.id) === req.params.id);
    return fs ? send(res, req, 200, fs) : notFound(req, res, 'No FeatureSegment matches the given query.');
  });
  router.delete('/api/v1/features/feature-segments/:id/', (req, res) => {
    const fs = m.featureSegments.find((x) => String(x.id) === req.params.id);
    if (!fs) return notFound(req, res, 'No FeatureSegment matches the given query.');
    m.featureSegments.splice(m.featureSegments.indexOf(fs), 1);
    m.states = m.states.filter((s) => s.feature_segment !== fs.id);
    send(res, req, 204, null);
  });

  router.get('/api/__future__/environments/:key/features/:id/', (req, res) => {
    const s = envStates(req.params.key!).find((x) => String(x.feature) === req.params.id);
    if (!s) return notFound(req, res, 'No Feature matches the given query.');
    send(res, req, 200, { environment_default: { enabled: s.enabled, value: typedValue(s.feature_state_value), variants: [] }, segment_overrides: [] });
  });
  // The environment default only (044 in the recordings); segment overrides are not modelled here.
  router.patch('/api/__future__/environments/:key/features/:id/', (req, res) => {
    const s = envStates(req.params.key!).find((x) => String(x.feature) === req.params.id);
    if (!s) return notFound(req, res, 'No Feature matches the given query.');
    const given = (req.body as Json).environment_default;
    if (!isObjectValue(given) || (req.body as Json).segment_overrides !== undefined) return send(res, req, 501, { double: 'only an environment default is modelled' });
    if (typeof given.enabled === 'boolean') s.enabled = given.enabled;
    if (isObjectValue(given.value)) s.feature_state_value = given.value.type === 'integer' ? Number(given.value.value) : given.value.type === 'boolean' ? given.value.value === 'true' : given.value.value;
    send(res, req, 200, { environment_default: { enabled: s.enabled, value: typedValue(s.feature_state_value), variants: [] }, segment_overrides: [] });
  });

  router.use((req, res) => notFound(req, res));
  return router;
}
