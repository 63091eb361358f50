/**
 * The state an import starts from, read from Unleash before the decision: each named flag (whether
 * it exists; its type, impression data and description; in the import's environment, whether it is
 * on, its strategies and variants; its tags, which the import removes) and the context fields the
 * payload names. What the import would do beyond its decision is refused here: a flag that is
 * archived (Unleash skips it silently) or a context field that does not exist yet (Unleash creates
 * it instance-wide).
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange, FlagTarget } from '../platform.js';
import { isObject } from './body.js';
import { ALL_ENVIRONMENTS } from './classify.js';
import { IMPORT_ACTION, importRefused, type ImportedFlag } from './import.js';
import { featurePath, getJson, liveState, readArchived, type ReadStateOptions, type UnleashFlagState } from './read-state.js';

export interface ImportFlagState extends UnleashFlagState {
  impressionData?: boolean;
  description?: string | null;
}

export interface ImportState {
  flags: Record<string, ImportFlagState>;
  /** The context fields the payload names, as Unleash holds them (every one exists). */
  contextFields: unknown[];
}

export function isImport(change: FlagChange): boolean {
  return change.action === IMPORT_ACTION;
}

/** Reads every flag the import names, one by one (they are locked meanwhile), and its context fields. */
export async function readImportState(opts: ReadStateOptions, change: FlagChange): Promise<ImportState> {
  const environment = change.environment;
  if (change.project === undefined || environment === undefined) throw new TypeError('an import without a project or environment');
  const flags: Record<string, ImportFlagState> = {};
  for (const target of change.flags ?? []) flags[target.flagKey] = await readImportedFlag(opts, change.project, environment, target.flagKey);
  return { flags, contextFields: await readContextFields(opts, contextFieldsOf(change)) };
}

async function readImportedFlag(opts: ReadStateOptions, project: string, environment: string, flagKey: string): Promise<ImportFlagState> {
  const path = featurePath(project, flagKey, true);
  const body = await getJson(opts, path);
  if (body === undefined) {
    if ((await readArchived(opts, flagKey)).exists) throw importRefused(`${flagKey} is archived, and Unleash skips archived flags without a word; revive it first`);
    return { exists: false };
  }
  const state: ImportFlagState = liveState(body, path, true);
  if (state.project !== project) throw importRefused(`${flagKey} belongs to project ${String(state.project)}`);
  const only = state.environments?.[environment];
  state.environments = only ? { [environment]: only } : {};
  if (isObject(body)) {
    state.impressionData = body.impressionData === true;
    state.description = typeof body.description === 'string' ? body.description : null;
  }
  const tags = await getJson(opts, `/api/admin/features/${encodeURIComponent(flagKey)}/tags`);
  state.tags = isObject(tags) && Array.isArray(tags.tags) ? tags.tags : [];
  return state;
}

function contextFieldsOf(change: FlagChange): string[] {
  const named = isObject(change.newState) ? change.newState.contextFields : undefined;
  return Array.isArray(named) ? (named as string[]) : [];
}

async function readContextFields(opts: ReadStateOptions, names: readonly string[]): Promise<unknown[]> {
  if (names.length === 0) return [];
  const all = await getJson(opts, '/api/admin/context');
  if (!Array.isArray(all)) throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', 'unexpected body from /api/admin/context');
  return names.map((n) => {
    const field = all.find((f: unknown) => isObject(f) && f.name === n) as unknown;
    if (field === undefined) throw importRefused(`it would create the context field ${n} instance-wide; create it through /api/admin/context first`);
    return field;
  });
}

/**
 * The environments each flag of the import alters, from its previous state: the import's own, and
 * every environment when it changes what every environment evaluates (an existing flag's type or
 * impression data, which Unleash resets to `release` and `false` when the payload omits them).
 */
export function importReach(change: FlagChange, previousState: unknown): Pick<FlagChange, 'flags' | 'environments' | 'environment'> | undefined {
  if (!isImport(change) || !isObject(previousState) || !isObject(previousState.flags)) return undefined;
  const before = previousState.flags as Record<string, ImportFlagState>;
  const asked = (isObject(change.newState) && isObject(change.newState.flags) ? change.newState.flags : {}) as Record<string, ImportedFlag>;
  const flags: FlagTarget[] = (change.flags ?? []).map((f) => {
    const was = before[f.flagKey];
    const wants = asked[f.flagKey];
    const everywhere = was?.exists === true && wants !== undefined && (was.type !== wants.type || was.impressionData !== wants.impressionData);
    return { ...f, environments: everywhere ? [ALL_ENVIRONMENTS] : f.environments };
  });
  const environments = [...new Set(flags.flatMap((f) => f.environments))].sort();
  return { flags, environments, environment: environments.length === 1 ? environments[0]! : ALL_ENVIRONMENTS };
}
