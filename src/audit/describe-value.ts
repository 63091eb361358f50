import { createHash } from 'node:crypto';

/** What an entry keeps of a value it does not store whole: its digest, its size and its first characters. */
export interface ValueDigest {
  /** Hex SHA-256 of `text` below (for a value JSON can carry: of its RFC 8785 canonical JSON). */
  sha256: string;
  /** UTF-8 length of that text. */
  bytes: number;
  /** Its first characters, lone surrogates replaced, so the excerpt itself can always be recorded. */
  excerpt: string;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const loneSurrogates = new RegExp(loneSurrogate.source, 'g');

// String.prototype.isWellFormed (ES2024) answers without scanning a string that cannot hold a
// surrogate at all; every string of every entry is checked on the hot path.
const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** True when `s` is well-formed UTF-16 (no lone surrogate): RFC 8785 §3.2.2.2 and I-JSON refuse anything else. */
export function isWellFormed(s: string): boolean {
  return nativeWellFormed ? nativeWellFormed.call(s) : !loneSurrogate.test(s);
}

/** True when every character of `s` is ASCII: its UTF-8 is then one byte a character, the same bytes as its Latin-1. */
export function isAscii(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') === s.length;
}

/** `s` cut to at most `max` characters (never inside a surrogate pair) with lone surrogates replaced by U+FFFD. */
export function safeText(s: string, max: number): string {
  let cut = s.length > max ? s.slice(0, max) : s;
  if (cut.length < s.length && /[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.replace(loneSurrogates, '\uFFFD') + (cut.length < s.length ? '…' : '');
}

/**
 * Writes any value as JSON text without recursion, keys sorted as RFC 8785 sorts them: for a value
 * JSON can carry this is exactly its canonical JSON; what JSON cannot carry is written anyway
 * (`Infinity`, `NaN`, `undefined`, lone surrogates escaped) so that it can still be digested.
 * Depth is unbounded: the input may be hostile.
 */
export function looseCanonicalText(value: unknown): string {
  const out: string[] = [];
  const open = new WeakSet<object>(); // the objects being written around the current one: a cycle
  // A work list of values to write, literal text between them and objects to close, consumed from the end.
  const work: Array<{ value: unknown } | { text: string } | { leave: object }> = [{ value }];
  while (work.length > 0) {
    const item = work.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    if ('leave' in item) {
      open.delete(item.leave);
      continue;
    }
    const v = item.value;
    if (v === null) out.push('null');
    else if (typeof v === 'string') out.push(JSON.stringify(v));
    else if (typeof v === 'number') out.push(Number.isFinite(v) ? JSON.stringify(v) : String(v));
    else if (typeof v === 'boolean') out.push(String(v));
    else if (typeof v === 'bigint') out.push(`${v}n`);
    else if (typeof v === 'object') {
      if (open.has(v)) {
        out.push('"[cycle]"');
        continue;
      }
      open.add(v);
      const parts: Array<{ value: unknown } | { text: string } | { leave: object }> = [];
      if (Array.isArray(v)) {
        parts.push({ text: '[' });
        v.forEach((child, i) => parts.push(...(i > 0 ? [{ text: ',' }] : []), { value: child }));
        parts.push({ text: ']' });
      } else {
        const keys = Object.keys(v).sort();
        parts.push({ text: '{' });
        keys.forEach((k, i) => parts.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(k)}:` }, { value: (v as Record<string, unknown>)[k] }));
        parts.push({ text: '}' });
      }
      parts.push({ leave: v });
      for (let i = parts.length - 1; i >= 0; i -= 1) work.push(parts[i]!);
    } else out.push(String(v));
  }
  return out.join('');
}

/** The digest, size and a short excerpt of any value (see `looseCanonicalText`). */
export function describeValue(value: unknown, excerptChars = 256): ValueDigest {
  const text = looseCanonicalText(value);
  return {
    sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
    bytes: Buffer.byteLength(text, 'utf8'),
    excerpt: safeText(text, excerptChars),
  };
}
