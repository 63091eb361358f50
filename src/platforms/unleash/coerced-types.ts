/**
 * Unleash's route middleware runs Ajv with `coerceTypes` over each body before its handler reads it
 * (@wesleytodd/openapi's validator, `coerce: true`): `"inverted": "true"` becomes `true`, `null`
 * becomes `false`, `0` or `""`, `25` becomes `"25"`. The handler then stores what the policy never
 * saw. A body must already be in the types Unleash's schema declares; one it would coerce is refused.
 */
import { FlaggateError } from '../../errors.js';
import { routeChecks } from './request-types.generated.js';
import type { WriteRoute } from './routes.js';

type RouteCheck = (data: { body: unknown }) => boolean;
const checks = routeChecks as Record<string, RouteCheck>;

/** Throws ADAPT_BODY_MALFORMED, naming the first member Unleash's validator would change. */
export function refuseCoercedTypes(route: Pick<WriteRoute, 'method' | 'pattern'>, body: unknown): void {
  const check = checks[`${route.method} ${route.pattern}`];
  if (check === undefined) return; // Unleash validates no body on this route: it reads it as sent.
  const coerced = { body: structuredClone(body) };
  // Its verdict is Unleash's to give (a body it refuses changes nothing); only the coercion matters here.
  check(coerced);
  const at = firstDifference(body, coerced.body, '');
  if (at === undefined) return;
  throw new FlaggateError('ADAPT_BODY_MALFORMED', `body${at || ' '} must be sent in the type Unleash's schema declares: Unleash would read it as ${JSON.stringify(valueAt(coerced.body, at))}`, {
    details: { field: at },
  });
}

/** The JSON Pointer of the first place where `b` differs from `a`, or undefined when they are equal. */
function firstDifference(a: unknown, b: unknown, at: string): string | undefined {
  if (a === b) return undefined;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return at;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

function valueAt(value: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((v, key) => (v as Record<string, unknown>)[key.replaceAll('~1', '/').replaceAll('~0', '~')], value);
}
