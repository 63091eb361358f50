/**
 * Switching an environment on where a flag has no active strategy is more than `enabled: true`:
 * Unleash then adds a strategy (`unprotectedUpdateEnabled`): the project's default strategy for
 * that environment, else a flexible rollout to everyone. Which one only the project says, so the
 * state read records it (`addedOnEnable` of the environment), as Unleash creates it: the project
 * default's group left empty is the flag's name, and a flexible rollout gets its defaults
 * (`parametersWithDefaults`: rollout 100, the project's default stickiness, the flag's name as group).
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { isObject } from './body.js';
import { defaultStickinessIn, readOverview } from './project-overview.js';
import type { ReadStateOptions, UnleashEnvironmentState } from './read-state.js';
import { storedVariants } from './variant-weights.js';

/** The query flag with which Unleash activates disabled strategies instead of adding one. */
const ACTIVATE = 'shouldActivateDisabledStrategies';
const FLEXIBLE_ROLLOUT = 'flexibleRollout';

/** Whether this enable of `env` (its state as read) makes Unleash add a strategy. */
export function enableAddsStrategy(change: FlagChange, env: UnleashEnvironmentState): boolean {
  if (change.action !== 'flag.enable') return false;
  const strategies = env.strategies ?? [];
  const query = isObject(change.newState) && isObject(change.newState.query) ? change.newState.query : {};
  return strategies.length === 0 || (strategies.every((s) => s.disabled === true) && query[ACTIVATE] !== 'true');
}

/** The strategy Unleash adds when `flagKey` is switched on in `environment` of `project` with no active strategy. */
export async function strategyAddedOnEnable(
  opts: ReadStateOptions,
  read: (opts: ReadStateOptions, path: string) => Promise<unknown>,
  project: string,
  environment: string,
  flagKey: string,
): Promise<Record<string, unknown>> {
  const { body, path } = await readOverview((p) => read(opts, p), project);
  if (!Array.isArray(body.environments)) throw unavailable(`unexpected project overview from ${path}`);
  const listed = (body.environments as unknown[]).find((e) => isObject(e) && e.environment === environment);
  if (!isObject(listed)) throw unavailable(`environment ${environment} is not listed in ${path}`);
  const stickiness = defaultStickinessIn(body, path);
  const projectDefault = listed.defaultStrategy;
  if (projectDefault !== undefined && projectDefault !== null && !isObject(projectDefault)) throw unavailable(`unexpected defaultStrategy in ${path}`);
  const strategy = projectDefault ? fromProjectDefault(projectDefault, flagKey) : { name: FLEXIBLE_ROLLOUT, constraints: [], disabled: false, parameters: { rollout: '100', stickiness: 'default', groupId: flagKey } };
  return withDefaults(strategy, flagKey, stickiness);
}

/** `getProjectDefaultStrategy`: the project's default, its group the flag's name where it is set empty. */
function fromProjectDefault(projectDefault: Record<string, unknown>, flagKey: string): Record<string, unknown> {
  const parameters = isObject(projectDefault.parameters) ? projectDefault.parameters : {};
  const groupId = parameters.groupId !== '' ? parameters.groupId : flagKey;
  return { ...projectDefault, parameters: { ...parameters, groupId: groupId || '' } };
}

/** `standardizeStrategyConfig`, applied when the strategy is created: variants weighed as stored, a flexible rollout's parameters filled in (`parametersWithDefaults`). */
function withDefaults(strategy: Record<string, unknown>, flagKey: string, projectStickiness: string): Record<string, unknown> {
  const parameters = isObject(strategy.parameters) ? strategy.parameters : {};
  const created = { ...strategy, variants: storedVariants(Array.isArray(strategy.variants) ? strategy.variants : []) };
  if (strategy.name !== FLEXIBLE_ROLLOUT) return { ...created, parameters };
  return {
    ...created,
    parameters: { ...parameters, rollout: parameters.rollout ?? '100', stickiness: parameters.stickiness ? parameters.stickiness : projectStickiness, groupId: parameters.groupId || flagKey },
  };
}

function unavailable(message: string): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message);
}
