import { createHash } from 'node:crypto';

/**
 * The file digests of OPA's bundle signatures (`v1/bundle/hash.go`), recomputed byte for byte.
 *
 * Structured files (`data.json`, `.manifest`) are hashed over OPA's canonical walk of the parsed
 * document, so whitespace does not matter: an object is `{`, each key in byte order as a JSON
 * string, `:`, the value's walk, `,` between members, `}`; an array likewise with `[` and `]`;
 * a string as Go's encoder writes it without HTML escaping; a number as its literal text (OPA
 * decodes with `UseNumber`, so `1.50` stays `1.50`); every other file over its raw bytes.
 */

/** Digest names OPA writes into a signature's `files[].algorithm`, and the ones flaggate accepts (no MD5, no SHA-1). */
export const fileDigestAlgorithms = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;
export type FileDigestAlgorithm = keyof typeof fileDigestAlgorithms;

export function isFileDigestAlgorithm(name: string): name is FileDigestAlgorithm {
  return Object.hasOwn(fileDigestAlgorithms, name);
}

/** OPA's `IsStructuredDoc`, on a bundle path without its leading slash. */
export function isStructuredFile(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === 'data.json' || base === 'data.yaml' || base === '.manifest' || base === 'signatures.json';
}

/** Hex digest of one bundle file as OPA computes it; throws a plain Error when a structured file is not strict JSON. */
export function digestBundleFile(path: string, bytes: Buffer, algorithm: FileDigestAlgorithm): string {
  const hash = createHash(fileDigestAlgorithms[algorithm]);
  if (!isStructuredFile(path)) return hash.update(bytes).digest('hex');
  // data.yaml is YAML to OPA: its walk would need a YAML reader, and flaggate bundles never hold one.
  if (path.endsWith('.yaml')) throw new Error(`${path}: YAML data files are not supported`);
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  walk(new Reader(text).document(), (s) => hash.update(s, 'utf8'));
  return hash.digest('hex');
}

// U+2028 and U+2029 are escaped by Go's encoder (not by JSON.stringify); the rest agrees with it.
function goString(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex -- RFC 8259 forbids raw control characters inside strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** A parsed JSON value; numbers and literals keep their text. */
type Node = { kind: 'object'; members: Array<[string, Node]> } | { kind: 'array'; items: Node[] } | { kind: 'string'; value: string } | { kind: 'raw'; text: string };

function walk(node: Node, write: (s: string) => void): void {
  switch (node.kind) {
    case 'object':
      write('{');
      [...node.members].sort((a, b) => compareUtf8(a[0], b[0])).forEach(([key, value], i) => {
        write(`${i > 0 ? ',' : ''}${goString(key)}:`);
        walk(value, write);
      });
      return write('}');
    case 'array':
      write('[');
      node.items.forEach((item, i) => {
        if (i > 0) write(',');
        walk(item, write);
      });
      return write(']');
    case 'string':
      return write(goString(node.value));
    case 'raw':
      return write(node.text);
  }
}

/** A strict RFC 8259 reader: no duplicate member names, no lone surrogates, nothing after the value. */
class Reader {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): Node {
    const node = this.value(0);
    this.space();
    if (this.pos !== this.text.length) this.fail('data after the JSON value');
    return node;
  }

  private fail(why: string): never {
    throw new Error(`${why} at offset ${this.pos}`);
  }

  private space(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos++;
  }

  private value(depth: number): Node {
    if (depth > MAX_DEPTH) this.fail('nested too deep');
    this.space();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return { kind: 'string', value: this.string() };
    for (const lit of ['true', 'false', 'null']) {
      if (this.text.startsWith(lit, this.pos)) {
        this.pos += lit.length;
        return { kind: 'raw', text: lit };
      }
    }
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('not a JSON value');
    this.pos += m[0].length;
    return { kind: 'raw', text: m[0] };
  }

  private string(): string {
    STRING.lastIndex = this.pos;
    const m = STRING.exec(this.text);
    if (!m) this.fail('not a JSON string');
    this.pos += m[0].length;
    const s = JSON.parse(m[0]) as string;
    // Go reads a lone surrogate as U+FFFD; refusing keeps one reading of the bytes.
    if (!isWellFormed(s)) this.fail('a lone surrogate');
    return s;
  }

  private object(depth: number): Node {
    this.pos++;
    const members: Array<[string, Node]> = [];
    const seen = new Set<string>();
    this.space();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', members };
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') this.fail('expected a member name');
      const key = this.string();
      // Go keeps the last of two equal names, JSON.parse too; refused so no reader can differ.
      if (seen.has(key)) this.fail(`duplicate member ${goString(key)}`);
      seen.add(key);
      this.space();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      members.push([key, this.value(depth + 1)]);
      this.space();
      const c = this.text[this.pos++];
      if (c === '}') return { kind: 'object', members };
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }

  private array(depth: number): Node {
    this.pos++;
    const items: Node[] = [];
    this.space();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.pos++];
      if (c === ']') return { kind: 'array', items };
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }
}

function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
