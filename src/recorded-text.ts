/** Text and counts from recorded values that callers chose: printed safely, counted by any key. */
/**
 * Text from a record (a name, an id, a reason, a path) made safe to print to a terminal: each
 * control character (C0, DEL, C1, the line and paragraph separators) and each bidirectional
 * formatting character is written as a `\uXXXX` escape. A requester names themselves in their
 * token; printed raw, a carriage return, an ANSI escape or a right-to-left override in that name
 * could hide text, rewrite a line or start one of its own in an approver's terminal.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same characters, for a test: a global expression would keep its position from one test to the next. */
const ANY_UNPRINTABLE = new RegExp(UNPRINTABLE.source);

/**
 * An empty table of counts keyed by recorded text: without a prototype, so a key such as
 * `__proto__`, `constructor` or `toString` (an actor's id, a flag key) is counted like any other.
 */
export function tally(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

/** The longest reason and ticket a person may give the control port (or the console) to be recorded. */
export const MAX_REASON = 1024;
export const MAX_TICKET = 256;

/**
 * A reason or a ticket as every route of the control port records one: a string of printable text,
 * on one line, at most `max` long. Printable as `printable` means it: no control character (C0, DEL,
 * C1, the line and paragraph separators) and no bidirectional formatting character.
 */
export function isPrintableLine(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && !ANY_UNPRINTABLE.test(value);
}
