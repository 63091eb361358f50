/**
 * JSON Patches Unleash would store otherwise than they read. Unleash applies a patch to its own
 * copy of the object and stores the result through its update, which keeps, drops, converts or
 * reorders some members: a patch is taken only where the patch as sent is what is stored.
 */
import { isDeepStrictEqual } from 'node:util';
import { fieldMalformed, isObject, rolloutOf, STRATEGY_MEMBERS, type PatchOperation } from './body.js';
import { storedVariants } from './variant-weights.js';

/**
 * An operation that writes the description and nothing else. `move` and `copy` read another member
 * (`from`), and a `move` removes it: Unleash then validates the patched flag with its defaults, so
 * moving `/type` onto `/description` also resets the type to `release` (and `stale` and
 * `impressionData` to false).
 */
export function onlyDescription(op: PatchOperation): boolean {
  return DESCRIPTION_OPS.has(op.op) && op.path === '/description' && !Object.hasOwn(op, 'from');
}

const DESCRIPTION_OPS = new Set(['add', 'replace', 'remove', 'test']);

/**
 * A JSON Patch of a strategy that writes its rollout writes one every evaluator reads alike: a value
 * for `/parameters/rollout`, or `/parameters` as a whole, is checked; a rollout copied or moved from
 * elsewhere, or the whole document replaced, cannot be, and is refused.
 */
export function checkPatchedRollout(patch: PatchOperation[]): void {
  checkVariantsPatch(patch, '/variants');
  for (const op of patch) {
    // Unleash's update leaves these as they were when the patched strategy has them null or absent.
    const kept = KEPT_WHEN_EMPTY.has(op.path) && (op.op === 'remove' || ((op.op === 'add' || op.op === 'replace') && op.value === null));
    if (kept || (op.op === 'move' && typeof op.from === 'string' && KEPT_WHEN_EMPTY.has(op.from))) {
      throw fieldMalformed('patch', `free of ${op.op === 'move' ? `a move out of ${String(op.from)}` : `${op.path} removed or written as null`}: Unleash keeps the strategy's own then, not what the patch says`);
    }
    const copied = op.op === 'move' || op.op === 'copy';
    // Unleash stores a flexible rollout left without a rollout as 100%, without a stickiness as the
    // project's default, without a group as grouped by the flag's name.
    const defaulted = (path: unknown) => path === '/parameters' || (typeof path === 'string' && DEFAULTED_PARAMETERS.has(path));
    const removed = op.op === 'remove' || (op.op === 'move' && defaulted(op.from));
    if (op.path === '' || (copied && defaulted(op.path)) || (removed && (defaulted(op.path) || op.op === 'move'))) {
      throw fieldMalformed('patch', 'free of a rollout, stickiness or group copied, moved or removed, and of the whole strategy replaced: write /parameters/rollout, /parameters/stickiness or /parameters/groupId as a value');
    }
    if (op.path === '/sortOrder' && op.op !== 'test') throw fieldMalformed('patch', 'free of /sortOrder: a strategy update does not write it (reorder through …/strategies/set-sort-order)');
    // The strategy's name decides which parameters Unleash fills in: written as a value, so the state check can follow it.
    if (copied && op.path === '/name') throw fieldMalformed('patch', 'free of a name copied or moved in: write /name as a value');
    checkPatchedConstraints(op);
    checkPatchedSegments(op);
    // Unleash stores only these members of the patched strategy (an `/id` or `/featureName` written is ignored).
    const member = op.path.split('/')[1];
    if (op.op !== 'test' && member !== undefined && !STRATEGY_MEMBERS.has(member)) {
      throw fieldMalformed('patch', `free of /${member}: Unleash stores only ${[...STRATEGY_MEMBERS].join(', ')} of a patched strategy and ignores the rest`);
    }
    if (op.path === '/parameters/rollout' && Object.hasOwn(op, 'value')) rolloutOf(op.value);
    if (op.path === '/parameters' && isObject(op.value) && op.value.rollout !== undefined) rolloutOf(op.value.rollout);
  }
}

/**
 * Unleash's validator gives a constraint without `values` an empty list, which a patch recorded as
 * sent would not show: constraints a patch writes must carry theirs, and a constraint's `values`
 * may not be removed, or a constraint copied or moved in from outside the constraints.
 */
function checkPatchedConstraints(op: PatchOperation): void {
  const from = typeof op.from === 'string' ? op.from : undefined;
  const lacksValues = (c: unknown) => !isObject(c) || !Array.isArray(c.values);
  const written = op.op === 'add' || op.op === 'replace';
  const writtenWithout = written && (op.path === '/constraints' ? Array.isArray(op.value) && op.value.some(lacksValues) : ONE_CONSTRAINT.test(op.path) && lacksValues(op.value));
  const isConstraints = (pointer: string | undefined) => pointer !== undefined && (pointer === '/constraints' || ONE_CONSTRAINT.test(pointer));
  const fromOutside = (op.op === 'copy' || op.op === 'move') && isConstraints(op.path) && !isConstraints(from);
  const valuesRemoved = (op.op === 'remove' && CONSTRAINT_VALUES.test(op.path)) || (op.op === 'move' && from !== undefined && CONSTRAINT_VALUES.test(from));
  if (writtenWithout || fromOutside || valuesRemoved) {
    throw fieldMalformed('patch', "free of constraints without a values list (give each its values, [] for none): Unleash's validator adds an empty one, which the patch would not show");
  }
}

/**
 * Unleash adds a strategy's segments it does not have and removes the others: one added again, or
 * named twice, is stored once, which a patch recorded as sent would not show. A patch writes the
 * segments as a whole list, each once.
 */
function checkPatchedSegments(op: PatchOperation): void {
  if (op.op === 'test') return;
  const touches = (pointer: unknown) => typeof pointer === 'string' && pointer.startsWith('/segments/');
  const repeated = op.path === '/segments' && Array.isArray(op.value) && new Set(op.value).size !== op.value.length;
  if (touches(op.path) || touches(op.from) || repeated || (op.path === '/segments' && (op.op === 'copy' || op.op === 'move'))) {
    throw fieldMalformed('patch', 'writing /segments as a whole list of values, each segment once (Unleash stores a segment named again once)');
  }
}

const ONE_CONSTRAINT = /^\/constraints\/(?:-|0|[1-9][0-9]*)$/;
const CONSTRAINT_VALUES = /^\/constraints\/[^/]+\/values$/;

/** A flexible rollout's parameters Unleash fills in when they are left empty. */
const DEFAULTED_PARAMETERS = new Set(['/parameters/rollout', '/parameters/stickiness', '/parameters/groupId']);

/** A strategy's members Unleash's update leaves as they were when the patched strategy has them null or absent. */
const KEPT_WHEN_EMPTY = new Set(['/title', '/disabled', '/name', '/parameters', '/segments']);

/** The members of a feature a patch may write, and the type Unleash's update keeps each in. */
const METADATA_TYPES: Record<string, (v: unknown) => boolean> = {
  '/type': (v) => typeof v === 'string',
  '/stale': (v) => typeof v === 'boolean',
  '/impressionData': (v) => typeof v === 'boolean',
  '/description': (v) => typeof v === 'string' || v === null,
};

/**
 * Unleash applies a feature's patch, then runs the result through its validator, which converts
 * (`"true"` is true) and fills in defaults (a removed type is `release`) before storing it. Patch
 * values are free JSON to its schema, so the types are checked here: each of these members is
 * written in place with a value of its type, never removed, copied or moved in or out.
 */
export function checkMetadataPatch(patch: PatchOperation[]): void {
  for (const op of patch) {
    if (op.op === 'test') continue;
    const typed = METADATA_TYPES[op.path];
    // Unleash stores the patched document through its update, which writes these members only.
    if (!typed) throw fieldMalformed('patch', `free of ${op.path || 'the whole document'}: Unleash stores only the description, type, stale and impressionData of a patched flag and ignores the rest`);
    // A description removed is none, as the entry's patch reads; one copied or moved in is a member's string, or refused by Unleash.
    const loose = op.path === '/description' && (op.op === 'remove' || op.op === 'copy' || op.op === 'move');
    if (typed && !loose && !((op.op === 'add' || op.op === 'replace') && typed(op.value))) {
      throw fieldMalformed('patch', `written as a ${op.path.slice(1)} value of its own type at ${op.path} (Unleash converts or resets anything else)`);
    }
    if (typeof op.from === 'string' && op.from in METADATA_TYPES && op.op === 'move') {
      throw fieldMalformed('patch', `free of a move out of ${op.from} (Unleash resets it to its default)`);
    }
  }
}

/**
 * A strategy's variants written by a patch are reweighted and sorted after it applies (see
 * ./variant-weights.ts), so a patch that adds, removes or replaces variants, or writes a weight,
 * would be stored otherwise than it reads. Allowed: the whole list (at `base`) written as Unleash
 * stores it, and members of one variant other than its weight. (An environment's variants are
 * patched freely: the state read records the list that results, `patched-variants.ts`.)
 */
function checkVariantsPatch(patch: PatchOperation[], base: string): void {
  const reweighted = (pointer: unknown): boolean => {
    if (typeof pointer !== 'string' || !(pointer === base || pointer.startsWith(`${base}/`))) return false;
    const rest = pointer.slice(base.length).split('/').slice(1);
    // A name decides the order Unleash sorts the list into, and so which users get which variant:
    // a strategy's variants are not in the state read, so a rename there writes the whole list.
    return rest.length <= 1 || rest[1] === 'weight' || rest[1] === 'weightType' || (base !== '' && rest[1] === 'name');
  };
  for (const op of patch) {
    if (op.op === 'test') continue;
    // Unleash checks a patched list's types without converting them, then shares out the weights
    // from what was sent: a `fix` weight written as "0" is summed as text and stored as text.
    const integerWeights = Array.isArray(op.value) && op.value.every((v: unknown) => isObject(v) && Number.isInteger(v.weight));
    const wholeAsStored = (op.op === 'add' || op.op === 'replace') && op.path === base && Array.isArray(op.value) && integerWeights && isDeepStrictEqual(storedVariants(op.value), op.value);
    if ((reweighted(op.path) && !wholeAsStored) || (op.op === 'move' && reweighted(op.from))) {
      throw fieldMalformed('patch', `free of variants added, removed or reweighted one by one: write the whole list at ${base || '""'} as Unleash stores it (variable weights shared out, sorted by name)`);
    }
  }
}
