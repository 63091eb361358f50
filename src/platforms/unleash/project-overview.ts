/**
 * A project's overview (`GET /api/admin/projects/:project/overview`), read where Unleash fills a
 * strategy in from the project's settings: an enable that adds one (`enable-default.ts`), a
 * clone of rollouts stored without a stickiness (`clone-source.ts`), and a flexible rollout
 * created or updated without one (`read-state.ts`).
 */
import { FlaggateError } from '../../errors.js';
import { isObject } from './body.js';

export function overviewPath(project: string): string {
  return `/api/admin/projects/${encodeURIComponent(project)}/overview`;
}

/** The project's default stickiness as Unleash fills it in (`getDefaultStickiness`: its setting, else `default`). */
export function defaultStickinessIn(body: Record<string, unknown>, path: string): string {
  const stickiness = body.defaultStickiness;
  if (stickiness !== undefined && stickiness !== null && typeof stickiness !== 'string') {
    throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `unexpected defaultStickiness in ${path}`);
  }
  return stickiness || 'default';
}

/** The overview read through `read`; ADAPT_STATE_UNAVAILABLE when it is not an object. */
export async function readOverview(read: (path: string) => Promise<unknown>, project: string): Promise<{ body: Record<string, unknown>; path: string }> {
  const path = overviewPath(project);
  const body = await read(path);
  if (!isObject(body)) throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `unexpected project overview from ${path}`);
  return { body, path };
}

/** The stickiness Unleash gives a flexible rollout left without one in `project` (`getDefaultStickiness`). */
export async function projectDefaultStickiness(read: (path: string) => Promise<unknown>, project: string): Promise<string> {
  const { body, path } = await readOverview(read, project);
  return defaultStickinessIn(body, path);
}
