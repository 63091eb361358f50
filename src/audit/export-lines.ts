import { canonicalJson } from './canonical.js';
import type { StoredRow } from './entry.js';
import { rowToEntry } from './row-to-entry.js';

/**
 * A chain.jsonl line: RFC 8785 of the stored row, built directly (keys in code-unit order, strings
 * as JSON.stringify writes them, which is what RFC 8785 specifies); equal to `canonicalJson(row)`.
 */
export function rowLine(row: StoredRow): string {
  if (!Number.isSafeInteger(row.seq)) throw new TypeError(`row seq ${row.seq} is not an integer`);
  return `{"body":${JSON.stringify(row.body)},"chain_id":${JSON.stringify(row.chain_id)},"hash":${JSON.stringify(row.hash)},"prev_hash":${JSON.stringify(row.prev_hash)},"seq":${row.seq}}\n`;
}

/**
 * An entries.jsonl line: RFC 8785 of the entry with its hash, equal to `canonicalJson({...body,
 * hash})`, made by inserting `"hash"` among the top-level keys of the already canonical body
 * instead of serializing the whole entry again (the export's hot loop). Falls back to serializing
 * when the body holds a `hash` key of its own or is not an object.
 */
export function entryLine(row: StoredRow): string {
  const at = topLevelKeyAfter(row.body, 'hash');
  if (at === undefined) return canonicalJson(rowToEntry(row)) + '\n';
  const hash = `"hash":${JSON.stringify(row.hash)}`;
  if (at === -1) return row.body === '{}' ? `{${hash}}\n` : `${row.body.slice(0, -1)},${hash}}\n`;
  return `${row.body.slice(0, at)}${hash},${row.body.slice(at)}\n`;
}

/**
 * In canonical JSON text of an object: the offset of the first top-level key that sorts after
 * `key` (-1 when none does), or undefined when `key` itself is present or the text is not an object.
 */
function topLevelKeyAfter(text: string, key: string): number | undefined {
  if (text[0] !== '{') return undefined;
  let depth = 0;
  let expectKey = true;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i += 1; text.charCodeAt(i) !== 0x22; i += 1) if (text.charCodeAt(i) === 0x5c /* \ */) i += 1;
      if (depth === 1 && expectKey) {
        const raw = text.slice(start, i + 1);
        const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (name === key) return undefined;
        if (name > key) return start;
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth += 1;
      expectKey = c === 0x7b && depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth -= 1;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return -1;
}
