import { FlaggateError } from '../../errors.js';
import { readUnleashState } from '../../platforms/index.js';
import type { DriftProbe, FlagRef, PlatformEvent, Snapshot } from '../probe.js';

export interface UnleashProbeOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

const PAGE = 100;
const MAX_PAGES = 200;

/**
 * Unleash, read with flaggate's own admin token: the state of each flag flaggate knows (every
 * environment), Unleash's event log through the event search API, and the name Unleash records
 * for that token. Unleash records every admin token's events with user id -42; what tells
 * flaggate's apart is `createdBy`, the token's name (`GET /api/admin/user` returns it as `username`).
 */
export function createUnleashProbe(opts: UnleashProbeOptions): DriftProbe {
  return {
    platform: 'unleash',
    source: 'state',
    async snapshot(known: readonly FlagRef[]): Promise<Snapshot> {
      const flags = new Map<string, unknown>();
      for (const ref of known) {
        if (ref.project === undefined) continue;
        const request = { method: 'GET', path: '*', bodySha256: '' };
        flags.set(ref.key, await readUnleashState(opts, { platform: 'unleash', action: 'flag.update', project: ref.project, flagKey: ref.key, request }));
      }
      // Form 2: each strategy's title, sort order and variants are part of its state.
      // Form 3: so is the flag's createdAt.
      return { flags, stateForm: 3 };
    },
    async events(afterId: number | undefined): Promise<PlatformEvent[]> {
      if (afterId === undefined) {
        const body = await getJson(opts, '/api/admin/search/events?limit=1&offset=0');
        const newest = isObject(body) && Array.isArray(body.events) ? toEvent(body.events[0]) : undefined;
        return newest ? [newest] : [];
      }
      const found = new Map<number, PlatformEvent>();
      // Newest first: read pages until an event at or below the cursor shows.
      for (let page = 0; page < MAX_PAGES; page++) {
        const body = await getJson(opts, `/api/admin/search/events?limit=${PAGE}&offset=${page * PAGE}`);
        const events = isObject(body) && Array.isArray(body.events) ? (body.events as unknown[]) : undefined;
        if (!events) throw unavailable('unexpected body from the Unleash event search');
        let reachedCursor = events.length < PAGE;
        for (const raw of events) {
          const event = toEvent(raw);
          if (event === undefined) continue;
          if (event.id <= afterId) reachedCursor = true;
          else if (event.flagKey !== '') found.set(event.id, event);
        }
        if (reachedCursor) return [...found.values()].sort((a, b) => a.id - b.id);
      }
      throw unavailable(`more than ${MAX_PAGES * PAGE} Unleash events since event ${afterId}`);
    },
    async self(): Promise<string> {
      const body = await getJson(opts, '/api/admin/user');
      const user = isObject(body) && isObject(body.user) ? body.user : undefined;
      const name = user?.username ?? user?.email;
      if (typeof name !== 'string' || name === '') throw unavailable('Unleash did not say whom its admin token belongs to');
      return name;
    },
  };
}

function toEvent(raw: unknown): PlatformEvent | undefined {
  if (!isObject(raw) || typeof raw.id !== 'number' || typeof raw.type !== 'string') return undefined;
  return {
    id: raw.id,
    type: raw.type,
    flagKey: typeof raw.featureName === 'string' ? raw.featureName : '',
    project: typeof raw.project === 'string' ? raw.project : null,
    environment: typeof raw.environment === 'string' ? raw.environment : null,
    actor: typeof raw.createdBy === 'string' ? raw.createdBy : null,
    timeMs: typeof raw.createdAt === 'string' ? Date.parse(raw.createdAt) : Number.NaN,
    before: raw.preData ?? null,
    after: raw.data ?? null,
  };
}

async function getJson(opts: UnleashProbeOptions, path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(opts.baseUrl.replace(/\/+$/, '') + path, {
      headers: { authorization: opts.token, accept: 'application/json' },
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw unavailable(`Unleash did not answer ${path}: ${(err as Error).message}`, err);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw unavailable(`Unleash answered ${res.status} to ${path}`);
  }
  return res.json().catch((err: unknown) => {
    throw unavailable(`Unleash sent an unreadable body for ${path}`, err);
  });
}

function unavailable(message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
