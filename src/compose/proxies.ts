/**
 * The proxy ports and what each serves: the configured proxy port for the single platform (as it
 * always was) or for every platform with a path prefix, and a port of its own for each platform
 * that has one. Every port hands requests to the same pipeline, with the stages of the platform
 * the request is for; a request that reaches no platform goes to a platform that refuses it, so a
 * write there is still recorded.
 */
import type { Config } from '../config/index.js';
import type { FlaggateError } from '../errors.js';
import { routeByPrefix, type RawRequest } from '../intercept/index.js';
import { handleRequest, type Reply, type Stages } from '../pipeline/index.js';
import type { Platform } from '../platforms/index.js';
import type { OpenedPlatform, Platforms } from './platforms.js';

export interface ProxyPlan {
  port: number;
  /** Each platform served on this port and its path prefix (`''` for none). */
  served: Array<{ id: string; prefix: string }>;
  handle(req: RawRequest): Promise<Reply>;
}

/**
 * The ports to listen on, each with its handler: `stages.of(id)` are a platform's stages, and
 * `stages.base` every stage but the platform (for requests that reach none).
 */
export function planProxies(config: Readonly<Config>, platforms: Platforms, stages: { base: Omit<Stages, 'platform'>; of(id: string): Stages }): ProxyPlan[] {
  const { base } = stages;
  const stagesOf = (p: OpenedPlatform) => stages.of(p.route.id);
  const own = platforms.list.filter((p) => p.route.proxyPort !== undefined);
  const shared = platforms.list.filter((p) => p.route.proxyPort === undefined);
  const plans = own.map((p): ProxyPlan => ({ port: p.route.proxyPort!, served: [{ id: p.route.id, prefix: '' }], handle: (req) => handleRequest(req, stagesOf(p)) }));
  const single = shared.length === 1 && shared[0]!.route.pathPrefix === undefined ? shared[0] : undefined;
  if (single) return [{ port: config.proxyPort, served: [{ id: single.route.id, prefix: '' }], handle: (req) => handleRequest(req, stagesOf(single)) }, ...plans];
  const prefixes = shared.map((p) => p.route.pathPrefix!);
  const main: ProxyPlan = {
    port: config.proxyPort,
    served: shared.map((p) => ({ id: p.route.id, prefix: p.route.pathPrefix! })),
    handle: (req) => {
      const routed = routeByPrefix(req, prefixes);
      if ('refused' in routed) return handleRequest(req, { ...base, platform: refusingPlatform(routed.refused) });
      return handleRequest(routed.req, stagesOf(shared[routed.index]!));
    },
  };
  return [main, ...plans];
}

/** Where a request reaches no platform: every request is refused with why (and a write recorded as such). */
function refusingPlatform(error: FlaggateError): Platform {
  const never = () => {
    throw new TypeError('a request that reaches no platform went past classification');
  };
  return {
    name: 'unrouted',
    classify: () => {
      throw error;
    },
    readState: never,
    settled: never,
    forward: never,
  };
}
