import type { FlagChange } from '../platforms/index.js';

/** One difference between the state before a change and what the change asks for. */
export interface StateDiff {
  /** JSON Pointer (RFC 6901) into the affected object. */
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * What a held change touches, as the approver sees it: the strategy for a strategy change, the
 * environment's (or flag's) fields an enable, disable, archive or revive sets, the flag for a
 * create or update. `pointer` says where the object sits in the previous state (RFC 6901).
 */
export interface AffectedObject {
  kind: 'strategy' | 'environment' | 'flag';
  pointer: string;
  before: unknown;
  after: unknown;
  diff: StateDiff[];
  /**
   * The segments the change names or serves through, as its state read found them (Unleash's
   * `segmentsNamed`: each one's name, constraints and project): whom the strategies select.
   */
  segments?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

// Actions that set a few fields of an object: the object is shown as those fields only.
const FIELD_ACTIONS = new Set(['flag.enable', 'flag.disable', 'flag.archive', 'flag.revive', 'flag.delete']);
// Members of an Unleash strategy its update leaves as they were when it is not sent them (its
// segments without a list, title and disabled without a value, the sort order, which set-sort-order
// writes): not in the new state, and kept, not removed.
const UNLEASH_KEPT_ON_UPDATE = ['segments', 'title', 'disabled', 'sortOrder'];

function withKept(before: unknown, after: unknown): unknown {
  if (!isObject(before) || !isObject(after)) return after;
  const kept = UNLEASH_KEPT_ON_UPDATE.filter((k) => Object.hasOwn(before, k) && !Object.hasOwn(after, k)).map((k) => [k, before[k]]);
  return { ...Object.fromEntries(kept), ...after };
}

// Unleash's state keys that describe the flag and not what a flag update sends.
const UNLEASH_STATE_ONLY = ['exists', 'environments', 'project', 'createdAt', 'parent'];

/**
 * The object a change affects, before and after, and their differences. A strategy change compares
 * the strategy it names with the new one (or shows a JSON Patch's operations one by one), never the
 * whole flag against a strategy.
 */
export function affectedObject(change: Pick<FlagChange, 'platform' | 'action' | 'environment' | 'previousState' | 'newState'>): AffectedObject {
  const object = objectOf(change);
  const previous = change.previousState;
  return isObject(previous) && isObject(previous.segmentsNamed) ? { ...object, segments: previous.segmentsNamed } : object;
}

function objectOf(change: Pick<FlagChange, 'platform' | 'action' | 'environment' | 'previousState' | 'newState'>): AffectedObject {
  const previous = change.previousState ?? null;
  const after = change.newState ?? null;
  const env = change.environment;
  const envState = env !== undefined && env !== '*' && isObject(previous) ? objectAt(objectAt(previous, 'environments'), env) : undefined;
  const envPointer = `/environments/${escape(env ?? '')}`;

  if (change.action.startsWith('strategy.')) {
    const id = isObject(after) && typeof after.id === 'string' ? after.id : undefined;
    const strategies = envState && Array.isArray(envState.strategies) ? (envState.strategies as unknown[]) : [];
    const index = id === undefined ? -1 : strategies.findIndex((s) => isObject(s) && s.id === id);
    const before = index === -1 ? null : strategies[index]!;
    const pointer = `${envPointer}/strategies/${index === -1 ? '-' : index}`;
    if (change.action === 'strategy.delete') return affected('strategy', pointer, before, null);
    if (isObject(after) && Array.isArray(after.patch)) return { kind: 'strategy', pointer, before, after, diff: patchDiff(before, after.patch) };
    return affected('strategy', pointer, before, change.platform === 'unleash' && change.action === 'strategy.update' ? withKept(before, after) : after);
  }
  if (FIELD_ACTIONS.has(change.action) && isObject(after)) {
    const [kind, pointer, object] = envState ? (['environment', envPointer, envState] as const) : (['flag', '', previous] as const);
    return affected(kind, pointer, project(object, Object.keys(after)), after);
  }
  if (change.platform === 'unleash' && isObject(previous)) {
    // A create starts from nothing; an update sends the flag's own fields, never its environments.
    if (previous.exists === false) return affected('flag', '', null, after);
    const own = Object.fromEntries(Object.entries(previous).filter(([k]) => !UNLEASH_STATE_ONLY.includes(k)));
    return affected('flag', '', own, after);
  }
  return affected('flag', '', previous, after);
}

/**
 * The leaves that differ between `before` and `after`, by JSON Pointer. Arrays compare by index; a
 * member or element present on one side only is a difference whatever its value (a `null` added to
 * a rule's list can switch a flag on), shown as absent (`undefined`, left out of JSON) on the other.
 */
export function diffStates(before: unknown, after: unknown, path = ''): StateDiff[] {
  if (isObject(before) && isObject(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const at = `${path}/${escape(k)}`;
      if (Object.hasOwn(before, k) && Object.hasOwn(after, k)) return diffStates(before[k], after[k], at);
      return [{ path: at, before: Object.hasOwn(before, k) ? before[k] : undefined, after: Object.hasOwn(after, k) ? after[k] : undefined }];
    });
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || '/', before, after }];
}

function affected(kind: AffectedObject['kind'], pointer: string, before: unknown, after: unknown): AffectedObject {
  return { kind, pointer, before, after, diff: diffStates(before, after) };
}

/** Each JSON Patch operation as one line: the value at its path now, and what the operation sets there. */
function patchDiff(before: unknown, ops: unknown[]): StateDiff[] {
  return ops.filter(isObject).map((op) => {
    const path = typeof op.path === 'string' ? op.path : '/';
    const now = valueAt(before, path) ?? null;
    if (op.op === 'remove') return { path, before: now, after: null };
    if (op.op === 'add' || op.op === 'replace') return { path, before: now, after: op.value ?? null };
    return { path, before: now, after: { op: op.op, ...(op.from === undefined ? {} : { from: op.from }), ...(op.value === undefined ? {} : { value: op.value }) } };
  });
}

function valueAt(doc: unknown, pointer: string): unknown {
  if (pointer === '' || pointer === '/') return pointer === '' ? doc : isObject(doc) ? doc[''] : undefined;
  let node = doc;
  for (const raw of pointer.slice(1).split('/')) {
    if (!isObject(node)) return undefined;
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = Object.hasOwn(node, key) ? node[key] : undefined;
  }
  return node;
}

function project(object: unknown, keys: string[]): Json | null {
  if (!isObject(object)) return null;
  return Object.fromEntries(keys.map((k) => [k, Object.hasOwn(object, k) ? object[k] : null]));
}

function objectAt(object: unknown, key: string): Json | undefined {
  if (!isObject(object) || !Object.hasOwn(object, key)) return undefined;
  const value = object[key];
  return isObject(value) ? value : undefined;
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null;
}
