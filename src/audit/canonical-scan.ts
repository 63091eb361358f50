/**
 * A single-pass proof that a stored body is already in its RFC 8785 canonical form, without parsing
 * it into values and serializing them again. It accepts only text it can prove equals
 * `canonicalJson(JSON.parse(text))`: no whitespace, object keys in strictly increasing UTF-16 order
 * (so no duplicates), strings escaped exactly as JSON.stringify escapes them, numbers exactly as
 * ECMAScript prints them. Anything it cannot prove (a key with an escape, a lone surrogate, nesting
 * deeper than it follows) is refused, and the caller runs the full parse and re-serialization: a
 * refusal is never a verdict, an acceptance always agrees with the full check.
 */
import { isWellFormed } from './describe-value.js';

/** What the scan found at the top level of the body: the fields a row's columns must agree with. */
export interface TopFields {
  /** The `seq` value when it is a plain integer literal, else NaN. */
  seq: number;
  /** Start and end (exclusive) of the raw characters of `prev_hash` and `chain_id` when they are strings without escapes, else -1. */
  prevStart: number;
  prevEnd: number;
  chainStart: number;
  chainEnd: number;
}

const MAX_DEPTH = 64;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

let text = '';
let pos = 0;
/** The body holds no backslash, control or lone surrogate: every string in it ends at the next quote. */
let plain = false;
// eslint-disable-next-line no-control-regex -- controls are what it looks for
const CONTROL = /[\u0000-\u001f]/;
/** Set by scanString: the last string held an escape (its raw characters are not its value). */
let escaped = false;
const top: TopFields = { seq: NaN, prevStart: -1, prevEnd: -1, chainStart: -1, chainEnd: -1 };

/**
 * True when `body` is a JSON object in canonical form; `top` then holds its `seq`, `prev_hash` and
 * `chain_id` (read it before the next call). False means "not proven", not "not canonical".
 */
export function scanCanonicalObject(body: string): TopFields | undefined {
  text = body;
  pos = 0;
  // Three native checks, cheaper together than one pattern over every character for all three.
  plain = body.indexOf('\\') < 0 && isWellFormed(body) && !CONTROL.test(body);
  top.seq = NaN;
  top.prevStart = top.prevEnd = top.chainStart = top.chainEnd = -1;
  const ok = text.charCodeAt(0) === 0x7b && scanObject(0) && pos === text.length;
  text = '';
  return ok ? top : undefined;
}

function scanValue(depth: number): boolean {
  const c = text.charCodeAt(pos);
  if (c === QUOTE) return scanString();
  if (c === 0x7b) return depth < MAX_DEPTH && scanObject(depth + 1);
  if (c === 0x5b) return depth < MAX_DEPTH && scanArray(depth + 1);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return scanNumber();
  if (c === 0x74) return literal('true');
  if (c === 0x66) return literal('false');
  if (c === 0x6e) return literal('null');
  return false;
}

function literal(word: string): boolean {
  if (!text.startsWith(word, pos)) return false;
  pos += word.length;
  return true;
}

function scanObject(depth: number): boolean {
  pos += 1; // '{'
  if (text.charCodeAt(pos) === 0x7d) return (pos += 1), true;
  let prevKeyStart = -1;
  let prevKeyEnd = -1;
  for (;;) {
    if (text.charCodeAt(pos) !== QUOTE) return false;
    const keyStart = pos + 1;
    if (!scanString() || escaped) return false;
    const keyEnd = pos - 1;
    if (prevKeyStart >= 0 && compareRanges(prevKeyStart, prevKeyEnd, keyStart, keyEnd) >= 0) return false;
    prevKeyStart = keyStart;
    prevKeyEnd = keyEnd;
    if (text.charCodeAt(pos) !== 0x3a) return false;
    pos += 1;
    const valueStart = pos;
    if (!scanValue(depth)) return false;
    if (depth === 0) noteTopField(keyStart, keyEnd, valueStart);
    const c = text.charCodeAt(pos);
    pos += 1;
    if (c === 0x7d) return true;
    if (c !== 0x2c) return false;
  }
}

function scanArray(depth: number): boolean {
  pos += 1; // '['
  if (text.charCodeAt(pos) === 0x5d) return (pos += 1), true;
  for (;;) {
    if (!scanValue(depth)) return false;
    const c = text.charCodeAt(pos);
    pos += 1;
    if (c === 0x5d) return true;
    if (c !== 0x2c) return false;
  }
}

/** Records `seq`, `prev_hash` and `chain_id` of the top-level object (value just scanned). */
function noteTopField(keyStart: number, keyEnd: number, valueStart: number): void {
  const length = keyEnd - keyStart;
  if (length === 3 && text.startsWith('seq', keyStart)) {
    top.seq = plainInteger(valueStart, pos);
  } else if (text.charCodeAt(valueStart) !== QUOTE || escaped) {
    return;
  } else if (length === 9 && text.startsWith('prev_hash', keyStart)) {
    top.prevStart = valueStart + 1;
    top.prevEnd = pos - 1;
  } else if (length === 8 && text.startsWith('chain_id', keyStart)) {
    top.chainStart = valueStart + 1;
    top.chainEnd = pos - 1;
  }
}

/** The value of an integer literal of at most 15 digits (exact as a double), else NaN. */
function plainInteger(start: number, end: number): number {
  if (end - start > 15) return NaN;
  let value = 0;
  for (let i = start; i < end; i += 1) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}

/** Code-unit order of two ranges of `text`, as `<` orders strings (and as Array#sort orders keys). */
function compareRanges(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i += 1) {
    const d = text.charCodeAt(aStart + i) - text.charCodeAt(bStart + i);
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/**
 * A string as JSON.stringify writes it: raw characters except `"`, `\` and controls; the short
 * escapes where they exist, `\u00xx` (lower-case hex) for the other controls. A surrogate pair is
 * raw; a lone surrogate (which JSON.stringify escapes) is refused, as is any other escape.
 */
function scanString(): boolean {
  if (plain) {
    const end = text.indexOf('"', pos + 1);
    if (end < 0) return false;
    pos = end + 1;
    escaped = false;
    return true;
  }
  // Locals, not the module's variables, in the loop that sees most characters.
  const s = text;
  let p = pos + 1; // after the opening quote
  escaped = false;
  for (;;) {
    const c = s.charCodeAt(p);
    p += 1;
    if (c === QUOTE) break;
    if (!(c >= 0x20)) return false; // a raw control, or the end of the text (NaN)
    if (c === BACKSLASH) {
      pos = p;
      if (!scanEscape()) return false;
      p = pos;
      escaped = true;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const low = s.charCodeAt(p);
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return false;
      p += 1;
    }
  }
  pos = p;
  return true;
}

function scanEscape(): boolean {
  const e = text.charCodeAt(pos);
  pos += 1;
  // " \ b f n r t
  if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) return true;
  if (e !== 0x75 || !text.startsWith('00', pos)) return false;
  const hi = hexDigit(text.charCodeAt(pos + 2));
  const lo = hexDigit(text.charCodeAt(pos + 3));
  pos += 4;
  const unit = hi * 16 + lo;
  // Only controls without a short escape are written as \u00xx.
  return hi >= 0 && hi <= 1 && lo >= 0 && unit !== 0x08 && unit !== 0x09 && unit !== 0x0a && unit !== 0x0c && unit !== 0x0d;
}

/** A lower-case hex digit's value, else -16 (so that any sum with it stays negative). */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -16;
}

/**
 * A number exactly as ECMAScript prints it. Integers of up to 15 digits without a leading zero
 * (or `-0`) are proven by their digits; anything else by printing the value it parses to.
 */
function scanNumber(): boolean {
  const start = pos;
  let plain = true;
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c >= 0x30 && c <= 0x39) {
      pos += 1;
    } else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      pos += 1;
      plain = false;
    } else {
      break;
    }
  }
  const first = text.charCodeAt(start);
  if (plain && pos - start <= 15 && (first !== 0x30 || pos - start === 1)) return true;
  const token = text.slice(start, pos);
  const value = Number(token);
  return Number.isFinite(value) && String(value) === token;
}
