/**
 * The `platform.rest` block: how an in-house flag service's REST API maps to flag changes, checked
 * at start-up with errors that name the key at fault (`platform.rest.writes.1.flagKey: …`).
 *
 * A field source is a route parameter (`{flag}`, `{environment}`, `{project}`), `body:/json/pointer`
 * (RFC 6901, into the request body), `query:name`, or a literal value.
 */
import { z } from 'zod';
import { parseRoute, routeParams, sameRequests, type RouteParam, type RouteTemplate } from './route.js';

/** A field source, parsed. */
export type Source = { from: 'param'; name: RouteParam } | { from: 'body'; pointer: string } | { from: 'query'; name: string } | { from: 'literal'; value: string };

export interface WriteMapping {
  route: RouteTemplate;
  action: string;
  flagKey: Source;
  environment: Source;
  project?: Source;
  /** Where in the body the new state is; absent: the whole body. */
  newState?: string;
  /** The body's media type, or null for a route without a body. */
  mediaType: string | null;
  /** Query parameters the route takes (those a source reads included). */
  query: string[];
  /** Top-level body members the mapping's author says the service reads from the body only (not shadowing the route's or the query's). */
  bodyMembers: string[];
}

export interface StateRead {
  name: string;
  route: RouteTemplate;
  pointer?: string;
  /** Where the read's answer names the flag it found: it must be the change's flag key exactly. */
  keyPointer?: string;
}

export interface RestMapping {
  credentialHeader: string;
  credentialFormat: string;
  /** The service's router reads a last path segment's `.ext` as a format (Rails, DRF's format suffixes). */
  formatSuffixes: boolean;
  reads: RouteTemplate[];
  state: StateRead[];
  writes: WriteMapping[];
}

const POINTER = /^(\/([^~/]|~[01])*)+$/;
const KEY = /^[A-Za-z0-9_.:-]{1,256}$/;
const HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const JSON_MEDIA = /^application\/([a-z0-9.-]+\+)?json$/;
/** Headers flaggate writes itself, or that would change how the request is read. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'host', 'accept', 'accept-encoding', 'connection']);

const route = z.string().transform((text, ctx) => {
  const parsed = parseRoute(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const source = z.string().min(1).transform((text, ctx): Source => {
  const param = /^\{([a-z]+)\}$/.exec(text);
  if (param) {
    if (param[1] === 'flag' || param[1] === 'environment' || param[1] === 'project') return { from: 'param', name: param[1] };
    ctx.addIssue({ code: 'custom', message: `{${param[1]}} is not a route parameter` });
    return z.NEVER;
  }
  if (text.startsWith('body:')) {
    const pointer = text.slice('body:'.length);
    if (POINTER.test(pointer)) return { from: 'body', pointer };
    ctx.addIssue({ code: 'custom', message: 'body: takes a JSON pointer, e.g. body:/name' });
    return z.NEVER;
  }
  if (text.startsWith('query:')) {
    const name = text.slice('query:'.length);
    if (/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name)) return { from: 'query', name };
    ctx.addIssue({ code: 'custom', message: 'query: takes a parameter name, e.g. query:env' });
    return z.NEVER;
  }
  if (KEY.test(text) || text === '*') return { from: 'literal', value: text };
  ctx.addIssue({ code: 'custom', message: 'must be {flag}, {environment}, {project}, body:/json/pointer, query:name, or a literal key' });
  return z.NEVER;
});

const pointer = z.string().regex(POINTER, 'must be a JSON pointer, e.g. /flag');

/** `GET /path` or `{ name, route, pointer, keyPointer }`. */
const stateEntry = z.preprocess(
  (v) => (typeof v === 'string' ? { route: v } : v),
  z.strictObject({ name: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be a plain name').optional(), route, pointer: pointer.optional(), keyPointer: pointer.optional() }),
);

const writeEntry = z.strictObject({
  route,
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must be an action such as flag.update'),
  flagKey: source.optional(),
  environment: source.optional(),
  project: source.optional(),
  /** `body:/pointer`: the part of the body recorded as the new state. */
  newState: z.string().regex(/^body:(\/([^~/]|~[01])*)+$/, 'must be body:/json/pointer').optional(),
  /** A JSON media type the route takes (default application/json), or `none` for a route without a body. */
  mediaType: z.union([z.literal('none'), z.string().regex(JSON_MEDIA, 'must be a JSON media type (application/json, application/…+json) or none')]).optional(),
  query: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/)).default([]),
  /** Top-level body members the service reads from the body only, though named like a field (a variation's `key`). */
  bodyMembers: z.array(z.string().min(1).max(64)).default([]),
});

export const restMappingSchema = z
  .strictObject({
    credentialHeader: z.string().transform((h) => h.toLowerCase()).pipe(z.string().regex(HEADER, 'must be a header name').refine((h) => !RESERVED_HEADERS.has(h), 'is a header flaggate writes itself')).default('authorization'),
    credentialFormat: z.string().refine((f) => f.split('{token}').length === 2, 'must hold {token} exactly once').refine((f) => !/[\r\n]/.test(f), 'must be one line').default('Bearer {token}'),
    /** The service's router takes a last path segment's `.ext` as a format (Rails, DRF's format suffixes): such a key is refused there. */
    formatSuffixes: z.boolean().default(false),
    reads: z.array(route).default([]),
    /** One state read, or several (then each with a name). */
    state: z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(stateEntry).min(1, 'at least one state read')),
    writes: z.array(writeEntry).min(1, 'at least one write route'),
  })
  .superRefine((m, ctx) => {
    m.reads.forEach((r, i) => {
      if (r.method !== 'GET') ctx.addIssue({ code: 'custom', path: ['reads', i], message: 'a read is a GET route' });
    });
    const states = m.state;
    states.forEach((s, i) => {
      const path = ['state', i];
      if (s.route.method !== 'GET') ctx.addIssue({ code: 'custom', path, message: 'the state read is a GET route' });
      if (states.length > 1 && !s.name) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: 'several state reads need a name each' });
      if (s.keyPointer !== undefined && !routeParams(s.route).includes('flag')) {
        ctx.addIssue({ code: 'custom', path: [...path, 'keyPointer'], message: 'names where the answer holds the flag read, so the route reads one flag: it needs {flag}' });
      }
      for (const p of routeParams(s.route)) {
        if (p === 'project' && m.writes.some((w) => !w.project && !routeParams(w.route).includes('project'))) {
          ctx.addIssue({ code: 'custom', path, message: 'reads {project}, which some write does not give (set its project)' });
        }
        if (p === 'environment' && m.writes.some((w) => w.environment?.from === 'literal' && w.environment.value === '*')) {
          ctx.addIssue({ code: 'custom', path, message: 'reads {environment}, which a write gives as * (every environment): no one environment to read' });
        }
      }
    });
    m.writes.forEach((w, i) => checkWrite(w, i, ctx));
    // Two routes that match the same requests: which one a service takes is not known (requests that
    // two partly overlapping routes match are refused when they come: ADAPT_ROUTE_UNKNOWN).
    const twins = (routes: RouteTemplate[], key: string) =>
      routes.forEach((r, i) => {
        const j = routes.findIndex((o, k) => k < i && sameRequests(o, r));
        if (j !== -1) ctx.addIssue({ code: 'custom', path: [key, i, ...(key === 'writes' ? ['route'] : [])], message: `matches the same requests as ${key}.${j}` });
      });
    twins(m.reads, 'reads');
    twins(m.writes.map((w) => w.route), 'writes');
  });

/** The change fields a mapping fills. */
export type ChangeField = 'flagKey' | 'environment' | 'project';

/**
 * Names a service may give the change's fields (its own route parameters, its query, a DTO's
 * members), folded, however the mapping names them.
 */
export const FIELD_NAMES: Readonly<Record<string, ChangeField>> = Object.fromEntries([
  ...['flag', 'key', 'flagkey', 'flag_key', 'flagid', 'flag_id'].map((n) => [n, 'flagKey'] as const),
  ...['env', 'environment', 'environments', 'envkey', 'env_key', 'envid', 'env_id', 'environmentkey', 'environment_key', 'environmentid', 'environment_id'].map((n) => [n, 'environment'] as const),
  ...['project', 'projectkey', 'project_key', 'projectid', 'project_id'].map((n) => [n, 'project'] as const),
]);

/** A name as a case-insensitive reader matches it (Java's Turkish-locale lowercasing takes both dotted and dotless I for i). */
export function folded(name: string): string {
  return name.replace(/[\u0130\u0131]/g, 'i').toUpperCase().toLowerCase();
}

/** The route parameter each change field is when the route has it. */
const FIELD_PARAM = { flagKey: 'flag', environment: 'environment', project: 'project' } as const;

function checkWrite(w: z.infer<typeof writeEntry>, i: number, ctx: z.RefinementCtx): void {
  const params = routeParams(w.route);
  if (w.route.method === 'GET') ctx.addIssue({ code: 'custom', path: ['writes', i, 'route'], message: 'a write is a POST, PUT, PATCH or DELETE route' });
  if (!w.flagKey && !params.includes('flag')) ctx.addIssue({ code: 'custom', path: ['writes', i, 'flagKey'], message: 'required when the route has no {flag}' });
  const bodyless = (w.mediaType ?? (w.route.method === 'DELETE' ? 'none' : 'application/json')) === 'none';
  for (const field of ['flagKey', 'environment', 'project'] as const) {
    const s = w[field];
    if (s?.from === 'param' && !params.includes(s.name)) ctx.addIssue({ code: 'custom', path: ['writes', i, field], message: `the route has no {${s.name}}` });
    // The service reads the route's own parameter: a field taken from elsewhere could name another flag or environment.
    const own = FIELD_PARAM[field];
    if (s !== undefined && params.includes(own) && !(s.from === 'param' && s.name === own)) {
      ctx.addIssue({ code: 'custom', path: ['writes', i, field], message: `the route has {${own}}, which the service reads: the change's ${field} must be it` });
    }
    if (s?.from === 'body' && bodyless) ctx.addIssue({ code: 'custom', path: ['writes', i, field], message: 'the route takes no body (mediaType: none)' });
  }
  if (w.newState && bodyless) ctx.addIssue({ code: 'custom', path: ['writes', i, 'newState'], message: 'the route takes no body (mediaType: none)' });
  for (const field of ['flagKey', 'project'] as const) {
    if (w[field]?.from === 'literal' && (w[field] as { value: string }).value === '*') ctx.addIssue({ code: 'custom', path: ['writes', i, field], message: '* (every environment) is for the environment only' });
  }
  // A query parameter named like a field the change takes from elsewhere: the service may read it there.
  const fromQuery = new Set([w.flagKey, w.environment, w.project].flatMap((s) => (s?.from === 'query' ? [s.name] : [])));
  const everywhere = w.environment?.from === 'literal' && w.environment.value === '*';
  const stray = w.query.find((q) => !fromQuery.has(q) && Object.hasOwn(FIELD_NAMES, folded(q)) && !(everywhere && FIELD_NAMES[folded(q)] === 'environment'));
  if (stray !== undefined) ctx.addIssue({ code: 'custom', path: ['writes', i, 'query'], message: `${stray} names a field of the change the mapping takes from elsewhere; the service may read it from the query` });
  // bodyMembers says what the service reads from the body only: never the method, the route's or the query's names.
  const routeOrQuery = new Set(['_method', ...params, ...w.query, ...fromQuery].map(folded));
  const claimed = w.bodyMembers.find((b) => routeOrQuery.has(folded(b)));
  if (claimed !== undefined) ctx.addIssue({ code: 'custom', path: ['writes', i, 'bodyMembers'], message: `${claimed} is the method or a name of the route or the query, which the service may read from the body` });
}

/** What is wrong with `value` as a `platform.rest` block, each with its path under `platform`. */
export function mappingIssues(value: unknown): Array<{ path: string; message: string }> {
  if (value === undefined) return [{ path: 'rest', message: 'required for platform rest: the mapping of the service\'s routes' }];
  const result = restMappingSchema.safeParse(value);
  if (result.success) return [];
  // A single state read is `state`, not `state.0`, in the file: name it as written.
  const single = typeof value === 'object' && value !== null && !Array.isArray((value as Record<string, unknown>).state);
  return result.error.issues.map((issue) => {
    const path = single && issue.path[0] === 'state' && issue.path[1] === 0 ? ['state', ...issue.path.slice(2)] : issue.path;
    return { path: ['rest', ...path].join('.'), message: issue.message };
  });
}

/**
 * The checked mapping; a write that names no environment is in `defaultEnvironment`
 * (`platform.environment`). TypeError when it does not pass (start-up checks it first).
 */
export function compileMapping(value: unknown, defaultEnvironment: string): RestMapping {
  const result = restMappingSchema.safeParse(value);
  if (!result.success) throw new TypeError(`platform.rest does not pass its check: ${result.error.issues.map((i) => i.message).join('; ')}`);
  const m = result.data;
  const states = m.state;
  return {
    credentialHeader: m.credentialHeader,
    credentialFormat: m.credentialFormat,
    formatSuffixes: m.formatSuffixes,
    reads: m.reads,
    state: states.map((s, i) => ({
      name: s.name ?? String(i),
      route: s.route,
      ...(s.pointer === undefined ? {} : { pointer: s.pointer }),
      ...(s.keyPointer === undefined ? {} : { keyPointer: s.keyPointer }),
    })),
    writes: m.writes.map((w) => compileWrite(w, defaultEnvironment)),
  };
}

function compileWrite(w: z.infer<typeof writeEntry>, defaultEnvironment: string): WriteMapping {
  const params = routeParams(w.route);
  const mediaType = w.mediaType ?? (w.route.method === 'DELETE' ? 'none' : 'application/json');
  const sources = [w.flagKey, w.environment, w.project].filter((s): s is Source => s !== undefined);
  const query = [...new Set([...w.query, ...sources.flatMap((s) => (s.from === 'query' ? [s.name] : []))])];
  const out: WriteMapping = {
    route: w.route,
    action: w.action,
    flagKey: w.flagKey ?? { from: 'param', name: 'flag' },
    environment: w.environment ?? (params.includes('environment') ? { from: 'param', name: 'environment' } : { from: 'literal', value: defaultEnvironment }),
    mediaType: mediaType === 'none' ? null : mediaType,
    query,
    bodyMembers: w.bodyMembers,
  };
  const project = w.project ?? (params.includes('project') ? { from: 'param', name: 'project' } : undefined);
  if (project) out.project = project;
  if (w.newState) out.newState = w.newState.slice('body:'.length);
  return out;
}
