/**
 * Reads a flag's state from LaunchDarkly (`GET /api/v2/flags/{project}/{flag}`, restricted to the
 * change's environment when it names one) and reduces it to what a policy needs.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { fetchState } from '../request/index.js';
import { ALL_ENVIRONMENTS, isObject, PLATFORM } from './classify.js';

export interface ReadStateOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

export interface LaunchDarklyEnvironmentState {
  on: boolean;
  archived?: boolean;
  offVariation?: unknown;
  fallthrough?: unknown;
  rules: unknown[];
  targets: unknown[];
  contextTargets: unknown[];
  prerequisites: unknown[];
}

/** The compact state recorded as `previousState`. */
export interface LaunchDarklyFlagState {
  exists: boolean;
  key?: string;
  name?: string;
  kind?: string;
  archived?: boolean;
  deprecated?: boolean;
  variations?: Json[];
  environments?: Record<string, LaunchDarklyEnvironmentState>;
}

type Json = Record<string, unknown>;

export async function readLaunchDarklyState(opts: ReadStateOptions, change: FlagChange): Promise<LaunchDarklyFlagState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not a LaunchDarkly change: ${change.platform}`);
  if (change.project === undefined) throw new TypeError(`${change.action} without a project`);
  const env = change.environment !== undefined && change.environment !== ALL_ENVIRONMENTS ? change.environment : undefined;
  const path = `/api/v2/flags/${encodeURIComponent(change.project)}/${encodeURIComponent(change.flagKey)}${env ? `?env=${encodeURIComponent(env)}` : ''}`;
  const body = await getJson(opts, path);
  if (body === undefined) return { exists: false };
  const environments: Record<string, LaunchDarklyEnvironmentState> = {};
  for (const [name, config] of Object.entries(isObject(body.environments) ? body.environments : {})) {
    if (env !== undefined && name !== env) continue;
    if (!isObject(config)) throw unavailable(`unexpected environment ${name} in ${path}`);
    environments[name] = {
      on: config.on === true,
      ...(typeof config.archived === 'boolean' ? { archived: config.archived } : {}),
      offVariation: config.offVariation ?? null,
      fallthrough: config.fallthrough ?? null,
      rules: Array.isArray(config.rules) ? config.rules : [],
      targets: Array.isArray(config.targets) ? config.targets : [],
      contextTargets: Array.isArray(config.contextTargets) ? config.contextTargets : [],
      prerequisites: Array.isArray(config.prerequisites) ? config.prerequisites : [],
    };
  }
  if (typeof body.key !== 'string' || !Array.isArray(body.variations)) throw unavailable(`unexpected flag body from ${path}`);
  return {
    exists: true,
    key: body.key,
    name: String(body.name),
    kind: String(body.kind),
    archived: body.archived === true,
    deprecated: body.deprecated === true,
    variations: (body.variations as unknown[]).filter(isObject).map((v) => definedOnly({ _id: v._id, value: v.value, name: v.name })),
    environments,
  };
}

/** The parsed flag, or undefined when LaunchDarkly says it is not there (`not_found`); anything else is an error. */
async function getJson(opts: ReadStateOptions, path: string): Promise<Json | undefined> {
  const body = await fetchState(
    { platform: 'LaunchDarkly', baseUrl: opts.baseUrl, authorization: opts.token, timeoutMs: opts.timeoutMs, isNotFound: (b) => isObject(b) && b.code === 'not_found' },
    path,
  );
  if (body !== undefined && !isObject(body)) throw unavailable(`LaunchDarkly sent an unexpected body for ${path}`);
  return body;
}

/** The ledger records JSON: a field LaunchDarkly leaves out is left out, not recorded as undefined. */
function definedOnly<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function unavailable(message: string, cause?: unknown, details: Record<string, unknown> = {}): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, { cause, details });
}
