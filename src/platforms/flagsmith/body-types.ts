/**
 * Flagsmith reads bodies with Django REST Framework, whose fields convert what they are given
 * before anything is stored: a BooleanField takes "false", "off", "n", "0" or 0 as false (and the
 * like as true), an IntegerField "5" or "5.0", a FloatField "NaN", a CharField stores `str(value)`
 * with Python's whitespace stripped from both ends; a feature state's value is typed by its Python
 * type (`100.0` is stored as the string "100.0"). The entry records the body as sent, so each member the routes take must already be
 * what Flagsmith keeps: anything Flagsmith would convert is refused. (A value may also be sent as
 * `{type, string_value | integer_value | boolean_value}`, whose members are held to the same rules.)
 */
import { FlaggateError } from '../../errors.js';
import { isJsonObject } from '../request/index.js';

const BOOLEANS = new Set(['enabled', 'default_enabled', 'boolean_value', 'is_archived', 'is_server_key_only']);
/**
 * Ids, priorities and integer values: JSON integers. A string is converted, and a primary key
 * looked up with `true` is row 1 (Django's `int(True)`).
 */
const INTEGERS = new Set(['feature', 'environment', 'segment', 'multivariate_feature_option', 'priority', 'identity', 'integer_value', 'id', 'model_field']);
/** Lists of primary keys: `"6"`, `" 7 "` and `5.5` name rows 6, 7 and 5 (Django's `int()`). */
const ID_LISTS = new Set(['tags', 'owners', 'group_owners']);
/** A feature's nested options take these read-only: DRF drops them, so the entry would hold what Flagsmith never stores. */
const NESTED_OPTION_READ_ONLY = new Set(['key', 'uuid']);
const NESTED_OPTION = /^\/multivariate_options\/[0-9]+$/;
const ALLOCATION_ITEM = /\/multivariate_feature_state_values\/[0-9]+$/;
const ALLOCATION_MEMBERS = new Set(['id', 'multivariate_feature_option', 'percentage_allocation']);
const NESTED_OPTION_MEMBERS = new Set(['id', 'type', 'string_value', 'integer_value', 'boolean_value', 'default_percentage_allocation']);
/** Percentages: JSON numbers ("NaN" and "50" are converted, and Python's `float(True)` is 1.0). */
const NUMBERS = new Set(['percentage_allocation', 'default_percentage_allocation', 'weight']);
/** A feature state's value, typed by how it is written. */
const VALUES = new Set(['feature_state_value']);
/** CharFields (the model's text columns): a number becomes its text, and both ends lose Python's whitespace. */
const TEXTS = new Set(['string_value', 'description', 'field_value', 'initial_value', 'key']);

/**
 * Whether DRF's CharField keeps `text` as it is: Python's `str.strip()` strips what `str.isspace()`
 * calls whitespace, which is more than JavaScript's `trim()` (U+001C-U+001F and U+0085 too); `\s`
 * adds U+FEFF, which Python keeps, so a text that starts or ends with it is refused as well.
 */
function keptByCharField(text: string): boolean {
  // DRF's CharField refuses U+0000; a value refused on an identity override's create is dropped, and the override keeps the default.
  if (text.includes('\u0000')) return false;
  return text === '' || (!isEdgeSpace(text[0]!) && !isEdgeSpace(text[text.length - 1]!));
}

/** U+001C-U+001F (the information separators) and U+0085 (next line): whitespace to Python only. */
const PYTHON_ONLY_SPACE = new Set([0x1c, 0x1d, 0x1e, 0x1f, 0x85]);
const isEdgeSpace = (unit: string): boolean => /\s/.test(unit) || PYTHON_ONLY_SPACE.has(unit.charCodeAt(0));

/**
 * Members whose numbers must be written as integers (Python's json types `1.0` as a float): for
 * `parseStrictJson`. A value is typed by it; a nested row's `id` is looked up by `str(pk)`, and
 * "1.0" fails there (500) after the outer row is saved.
 */
export const INTEGER_LITERAL_MEMBERS: ReadonlySet<string> = new Set([...VALUES, ...INTEGERS]);

const INT32 = 2 ** 31;

/** Throws ADAPT_BODY_MALFORMED naming the first member Flagsmith would read as another value. */
export function refuseConvertedMembers(body: unknown, at = ''): void {
  if (Array.isArray(body)) return body.forEach((v, i) => refuseConvertedMembers(v, `${at}/${i}`));
  if (!isJsonObject(body)) return;
  if (NESTED_OPTION.test(at)) {
    // Anything else there is dropped (the option's feature is the outer one).
    const stray = Object.keys(body).find((k) => !NESTED_OPTION_MEMBERS.has(k) && !NESTED_OPTION_READ_ONLY.has(k));
    if (stray !== undefined) refuse(`${at}/${stray}`, 'absent: a feature\'s option holds id, type, its values and default_percentage_allocation');
    // A new option left without one gets 100%, and an allocation of 100% in every environment.
    if (!Object.hasOwn(body, 'id') && !Object.hasOwn(body, 'default_percentage_allocation')) refuse(`${at}/default_percentage_allocation`, 'present on a new option');
    checkValueObject(body, at, false);
  }
  if (ALLOCATION_ITEM.test(at)) {
    const stray = Object.keys(body).find((k) => !ALLOCATION_MEMBERS.has(k));
    if (stray !== undefined) refuse(`${at}/${stray}`, 'absent: an allocation holds id, multivariate_feature_option and percentage_allocation only');
  }
  refuseDroppedMembers(body, at);
  for (const [key, value] of Object.entries(body)) {
    const where = `${at}/${key}`;
    // A typed value is checked here, not walked into.
    if (key === 'value' && isJsonObject(value)) refuseDroppedMembers(value, where);
    // drf-writable-nested reads `pk` as `id`: a second spelling of the row a nested object names (the
    // ids are held to the state read, own-feature.ts); the `__future__` API's serializers drop it.
    if (at !== '' && key === 'pk') refuse(where, 'absent: name a nested row by its id');
    // A value object's members other than its own type's are null, as Flagsmith's clients send them.
    if (BOOLEANS.has(key) && typeof value !== 'boolean' && !(key === 'boolean_value' && value === null)) refuse(where, 'a JSON boolean');
    if (INTEGERS.has(key) && (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && !Number.isSafeInteger(value)))) refuse(where, 'a JSON integer');
    // DRF iterates what it is given: an object's keys would be the ids.
    if (ID_LISTS.has(key) && !(Array.isArray(value) && value.every((id) => Number.isSafeInteger(id)))) refuse(where, 'a list of JSON integers');
    if (NESTED_OPTION.test(at) && NESTED_OPTION_READ_ONLY.has(key)) refuse(where, 'absent: Flagsmith ignores it here (set it through the feature\'s mv-options)');
    if (NUMBERS.has(key) && typeof value !== 'number') refuse(where, 'a JSON number');
    // A number or a boolean is stored as Python writes it (true as "True"); null where the column allows it, else Flagsmith refuses it.
    if (TEXTS.has(key) && !(value === null || (typeof value === 'string' && keptByCharField(value)))) refuse(where, 'a string without surrounding whitespace, or null');
    if (key === 'initial_value' && typeof value === 'string' && readAsAnotherInteger(value)) refuse(where, 'an integer written in plain digits (each environment\'s default is Python\'s int() of it), or text int() refuses');
    // Served as the boolean it names (`get_value_type`): written as JSON spells it, as an integer is.
    if (key === 'initial_value' && (value === 'True' || value === 'False')) refuse(where, `"${String(value).toLowerCase()}" (each environment's default is the boolean it names), or other text`);
    if (VALUES.has(key) && isJsonObject(value)) checkValueObject(value, where, true);
    if (key === ALLOCATIONS && Array.isArray(value)) refuseRepeatedOptions(value, where, ['multivariate_feature_option', 'id']);
    if (key === ALLOCATIONS && Array.isArray(value)) refuseOverAllocation(value, where);
    if (key === FUTURE_VARIANTS && Array.isArray(value)) refuseRepeatedOptions(value, where, ['id']);
    if (VALUES.has(key) && !isJsonObject(value)) checkStateValue(value, where);
    else if (key === 'value' && isJsonObject(value) && typeof value.type === 'string') checkTypedValue(value.type, value.value, where);
    else refuseConvertedMembers(value, where);
  }
}

/**
 * The `__future__` API's nested objects, by where they lie, with the members its serializers read
 * (`features/future/serializers.py`): DRF drops any other (a misspelled `valeu`, an `Enabled`
 * beside `enabled`), which the entry would show as written.
 */
const FUTURE_STATE = String.raw`^/(?:environment_default|segment_overrides/[0-9]+)`;
const FUTURE_MEMBERS: ReadonlyArray<[RegExp, ReadonlySet<string>]> = [
  [/^\/environment_default$/, new Set(['enabled', 'value', 'variants'])],
  [/^\/segment_overrides\/[0-9]+$/, new Set(['enabled', 'value', 'variants', 'segment', 'priority'])],
  [new RegExp(`${FUTURE_STATE}/value$`), new Set(['type', 'value'])],
  [new RegExp(`${FUTURE_STATE}/variants/[0-9]+$`), new Set(['id', 'weight'])],
  [/^\/segment_overrides\/[0-9]+\/segment$/, new Set(['id'])],
];

function refuseDroppedMembers(value: Record<string, unknown>, where: string): void {
  const members = FUTURE_MEMBERS.find(([place]) => place.test(where))?.[1];
  const stray = members && Object.keys(value).find((k) => !members.has(k));
  if (stray !== undefined) refuse(`${where}/${stray}`, `absent: Flagsmith reads only ${[...members!].join(', ')} there, and drops the rest`);
}

/** Flagsmith's value types, each with the member its value is served from (`FeatureStateValue.value`). */
const SERVED_FROM: Readonly<Record<string, string>> = { unicode: 'string_value', int: 'integer_value', bool: 'boolean_value' };
const VALUE_MEMBERS = new Set(['type', ...Object.values(SERVED_FROM)]);

/**
 * A value written as `{type, string_value, integer_value, boolean_value}`: a feature state's value
 * object, a multivariate option (`whole` false: other members beside it). A member left out keeps
 * what the row holds, even on a PUT (a new row starts from the feature's `initial_value`), and the
 * value served is the member its type names: with either missing the entry would show a value
 * Flagsmith does not serve. A value object holds nothing else (drf-writable-nested saves an `id`
 * there over that row, wherever it is; other members are dropped).
 */
export function checkValueObject(value: Record<string, unknown>, where: string, whole: boolean): void {
  if (whole) {
    const stray = Object.keys(value).find((k) => !VALUE_MEMBERS.has(k));
    if (stray !== undefined) refuse(`${where}/${stray}`, 'absent: a value object holds type, string_value, integer_value and boolean_value only');
  } else if (!Object.keys(value).some((k) => VALUE_MEMBERS.has(k))) {
    return;
  }
  const served = typeof value.type === 'string' && Object.hasOwn(SERVED_FROM, value.type) ? SERVED_FROM[value.type] : undefined;
  if (served === undefined) refuse(`${where}/type`, `one of ${Object.keys(SERVED_FROM).join(', ')}, with the value's members`);
  if (!Object.hasOwn(value, served)) refuse(`${where}/${served}`, `present: a value of type ${String(value.type)} is served from it, and one left out keeps what Flagsmith holds`);
}

const ALLOCATIONS = 'multivariate_feature_state_values';
/** The `__future__` API's allocations, each naming its row by `id`. */
const FUTURE_VARIANTS = 'variants';

/**
 * One allocation per option, and per row: an option twice stores the first, then the second fails
 * (500) with the change half made; a row named twice is saved once per copy, and the last wins.
 */
function refuseRepeatedOptions(allocations: unknown[], where: string, members: readonly string[]): void {
  for (const member of members) {
    const seen = new Set<unknown>();
    for (const [i, a] of allocations.entries()) {
      const named = isJsonObject(a) ? a[member] : undefined;
      if (named === undefined) continue;
      if (seen.has(named)) refuse(`${where}/${i}/${member}`, `a ${member} not named earlier in the same list`);
      seen.add(named);
    }
  }
}

/**
 * Percentages Flagsmith takes: each from 0 to 100, together at most 100. It checks them while it
 * saves, after the state's own value is saved: a PUT answered 400 has changed that value all the
 * same, which a change refused there would not show.
 */
function refuseOverAllocation(allocations: unknown[], where: string): void {
  const percentages: number[] = [];
  for (const [i, a] of allocations.entries()) {
    const percentage = isJsonObject(a) ? a.percentage_allocation : undefined;
    if (typeof percentage !== 'number') continue;
    if (percentage < 0 || percentage > 100) refuse(`${where}/${i}/percentage_allocation`, 'from 0 to 100');
    percentages.push(percentage);
  }
  // Python's sum() adds left to right up to 3.11 and with compensation from 3.12: over 100 either way is refused.
  const total = Math.max(percentages.reduce((sum, p) => sum + p, 0), compensatedSum(percentages));
  if (total > 100) refuse(where, `allocations that add up to 100 at most (these add up to ${total})`);
}

/** Neumaier's compensated sum, as Python 3.12's sum() of floats computes it. */
function compensatedSum(values: readonly number[]): number {
  let [sum, compensation] = [0, 0];
  for (const v of values) {
    const t = sum + v;
    compensation += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + compensation;
}

/**
 * Whether Python's `int()` reads `text` as an integer written otherwise than in plain digits.
 * Flagsmith gives each environment's default state `int(initial_value)` when it parses as a
 * 32-bit integer (`get_value_type`), and `int()` takes a sign, leading zeros, underscores between
 * digits and any script's decimal digits: "1_2" and "０１２" are served as 12, "+7" as 7.
 */
function readAsAnotherInteger(text: string): boolean {
  if (!/^[+-]?\p{Nd}+(?:_\p{Nd}+)*$/u.test(text) || /^(?:0|-?[1-9][0-9]*)$/.test(text)) return false;
  // Only a 32-bit integer is converted (`abs(int(v)) < 2_147_483_647`); a longer one is served as written.
  let magnitude = 0;
  for (const digit of text.replace(/[+_-]/g, '')) magnitude = magnitude * 10 + digitValue(digit);
  return magnitude < MAX_32_BIT;
}

const MAX_32_BIT = 2_147_483_647;

/**
 * A decimal digit's value in any script: Unicode encodes each script's digits 0-9 as one run, and
 * runs that touch (the mathematical digits) each hold ten, so it is the distance to the run's start.
 */
function digitValue(digit: string): number {
  let cp = digit.codePointAt(0)!;
  let steps = 0;
  while (/\p{Nd}/u.test(String.fromCodePoint(cp - 1))) {
    cp -= 1;
    steps += 1;
  }
  return steps % 10;
}

/** A feature state's value: a string Flagsmith keeps as it is, a 32-bit integer, a boolean or null. */
function checkStateValue(value: unknown, where: string): void {
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string' && keptByCharField(value)) return;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= -INT32 && value < INT32) return;
  refuse(where, 'a string without surrounding whitespace, a 32-bit integer, a boolean or null');
}

/** The `__future__` API's `{type, value}`: the string as Flagsmith's conversion to that type would leave it. */
function checkTypedValue(type: string, value: unknown, where: string): void {
  if (typeof value !== 'string') return refuse(`${where}/value`, 'a string');
  const ok =
    type === 'integer' ? /^(?:0|-?[1-9][0-9]*)$/.test(value) && Number(value) >= -INT32 && Number(value) < INT32
    : type === 'boolean' ? value === 'true' || value === 'false'
    : keptByCharField(value);
  if (!ok) refuse(`${where}/value`, `a ${type} written as Flagsmith stores it (${type === 'integer' ? 'plain digits' : type === 'boolean' ? '"true" or "false"' : 'no surrounding whitespace'})`);
}

function refuse(field: string, want: string): never {
  throw new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be ${want}`, { details: { field } });
}
