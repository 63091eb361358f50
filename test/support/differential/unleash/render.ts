/**
 * Turns a generated variant into the bytes sent on the socket: the path with its encodings, the
 * query, the Content-Type lines and the body, written with the JSON and charset tricks it carries.
 */
import { writeRoutes, type WriteRoute } from '../../../../src/platforms/unleash/routes.js';
import type { RawHttpRequest } from '../../raw-http.js';
import { FLAG_TYPES, type BodyTricks, type UnleashSpec } from './variants.js';

/** The objects of a slot a variant may name. */
export interface SlotTargets {
  /** The slot's current flag. */
  flag: string;
  /** A name no flag has yet, for creates. */
  freshName: string;
  /** Another unused name of the slot, for payloads that would smuggle a second name in. */
  hiddenName: string;
  /** A strategy of `flag` in the variant's environment ('none' when there is none). */
  strategyId: string;
  /** Every strategy of `flag` in the variant's environment, for a sort order. */
  strategyIds: string[];
  /** The slot's parent flag, for dependencies. */
  parent: string;
  /** A link of `flag` ('none' when there is none). */
  linkId: string;
  /** A tag value `flag` carries (type `simple`), and one it does not. */
  tagOld: string;
  tagNew: string;
}

export const ACTIVATE_KEY = 'shouldActivateDisabledStrategies';

export function renderVariant(spec: UnleashSpec, t: SlotTargets): RawHttpRequest {
  const route = writeRoutes[spec.route]!;
  const headers: Array<[string, string]> = [];
  let body: Buffer | undefined;
  if (route.body !== 'none' || spec.body.strayBody) {
    body = encodeBody(retyped(renderBody(route, spec, t), spec.body.retype), spec);
    for (const ct of spec.media.contentTypes) headers.push(['Content-Type', ct]);
  }
  return { method: route.method, target: renderTarget(route, spec, t), headers, body };
}

function pct(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

function renderTarget(route: WriteRoute, spec: UnleashSpec, t: SlotTargets): string {
  const params: Record<string, string> = {
    project: 'default', feature: t.flag, environment: spec.environment, strategyId: t.strategyId,
    parent: t.parent, linkId: t.linkId, tagType: 'simple', tagValue: t.tagOld,
  };
  const p = spec.path;
  let literalIndex = 0;
  let literalEncoded = false;
  const segments = route.pattern.slice(1).split('/').map((part) => {
    if (part.startsWith(':')) {
      const value = params[part.slice(1)] ?? 'missing';
      const encoded = encodeURIComponent(value);
      // Percent-encode unreserved characters too: `-`, `.`, and the first letter.
      return p.encodeParams ? encoded.replace(/^[a-z]|[-.]/g, pct) : encoded;
    }
    const flip = (p.caseFlips >> literalIndex++ % 8) & 1;
    let lit = flip ? part.toUpperCase() : part;
    if (p.encodeLiteral && !literalEncoded && lit.length > 2) {
      lit = pct(lit[0]!) + lit.slice(1);
      literalEncoded = true;
    }
    return lit;
  });
  const cut = (at: number): number => 1 + (at % segments.length);
  let path: string;
  if (p.dotSegment) {
    const k = cut(p.dotSegment.at);
    const inserted = p.dotSegment.form === '..' ? ['x', '..'] : p.dotSegment.form === '%2e%2e' ? ['x', '%2e%2e'] : [p.dotSegment.form];
    path = `/${[...segments.slice(0, k), ...inserted, ...segments.slice(k)].join('/')}`;
  } else if (p.encodedSlashAt !== undefined) {
    const k = cut(p.encodedSlashAt) % segments.length || 1;
    path = `/${segments.slice(0, k - 1).join('/')}${k > 1 ? '/' : ''}${segments[k - 1]}%2F${segments.slice(k).join('/')}`;
  } else if (p.doubleSlashAt !== undefined) {
    const k = cut(p.doubleSlashAt);
    path = `/${segments.slice(0, k).join('/')}//${segments.slice(k).join('/')}`;
  } else {
    path = `/${segments.join('/')}`;
  }
  if (p.trailingSlash) path += '/';
  const query = renderQuery(spec);
  if (p.fragment) {
    const k = cut(p.fragment.at);
    if (p.fragment.glued && k < segments.length) {
      // `…/features/flag#/environments/…`: flaggate sees one path, fetch sends the part before `#`.
      return `/${segments.slice(0, k).join('/')}#/${segments.slice(k).join('/')}${query}`;
    }
    return `${path}${query}#/environments/production/strategies/${t.strategyId}`;
  }
  return path + query;
}

function renderQuery(spec: UnleashSpec): string {
  const q = spec.query;
  const K = ACTIVATE_KEY;
  switch (q.kind) {
    case 'none':
      return '';
    case 'activate':
      return `?${K}=${q.value}`;
    case 'duplicate':
      return `?${K}=${q.values[0]}&${K}=${q.values[1]}`;
    case 'padded':
      return `?${Array.from({ length: q.pad }, (_, i) => `p${i}=${i}`).join('&')}&${K}=${q.value}`;
    case 'empty-pieces':
      return `?&${K}=${q.value}&`;
    case 'encoded-key':
      return `?should%41ctivateDisabledStrategies=${q.value}`;
    case 'bracket':
      return `?${K}[]=${q.value}`;
    case 'unknown':
      return '?foo=bar';
    case 'fragment':
      return `?${K}=${q.values[0]}#&${K}=${q.values[1]}`;
  }
}

/** A JSON text assembled piece by piece, so keys and values can be written in any legal (or odd) way. */
type Entry = [key: string, valueText: string];

function key(name: string, escaped: boolean): string {
  if (!escaped) return JSON.stringify(name);
  return `"\\u${name.charCodeAt(0).toString(16).padStart(4, '0')}${name.slice(1)}"`;
}

function object(entries: Entry[], spaced: boolean): string {
  const sep = spaced ? ' ,\n\t' : ',';
  const colon = spaced ? ' :  ' : ':';
  return `{${spaced ? '\n ' : ''}${entries.map(([k, v]) => `${k}${colon}${v}`).join(sep)}${spaced ? '\n' : ''}}`;
}

const escapeTexts: Record<NonNullable<BodyTricks['escapedValue']>, string> = {
  unicode: '\\u00e9\\u0041',
  pair: '\\ud83d\\ude00',
  'lone-surrogate': '\\ud800',
  control: '\\u0007\\t',
};

/** A JSON string of `visible`, with the variant's escapes appended and, for UTF-7 bodies, a hidden payload. */
function stringValue(visible: string, b: BodyTricks, hidden: string | undefined): string {
  const inner = JSON.stringify(visible).slice(1, -1);
  const escapes = b.escapedValue ? escapeTexts[b.escapedValue] : '';
  return `"${inner}${escapes}${hidden === undefined ? '' : utf7Hide(hidden)}"`;
}

/**
 * `text` as one UTF-7 base64 run (RFC 2152): plain ASCII to a UTF-8 reader, `text` itself to a
 * UTF-7 one. Used to smuggle `","name":"…` into what UTF-8 reads as a harmless string.
 */
export function utf7Hide(text: string): string {
  const be = Buffer.from(text, 'utf16le').swap16();
  return `+${be.toString('base64').replace(/=+$/, '')}-`;
}

function extras(b: BodyTricks, numberKey: string): Entry[] {
  const out: Entry[] = [];
  if (b.number) out.push([JSON.stringify(numberKey), b.number]);
  if (b.depth) out.push(['"deep"', `${'['.repeat(b.depth)}1${']'.repeat(b.depth)}`]);
  return out;
}

function withDuplicate(entries: Entry[], name: string, decoy: string, b: BodyTricks): Entry[] {
  if (!b.duplicateKey) return entries;
  const d: Entry = [JSON.stringify(name), JSON.stringify(decoy)];
  return b.duplicateKey === 'decoy-first' ? [d, ...entries] : [...entries, d];
}

function renderBody(route: WriteRoute, spec: UnleashSpec, t: SlotTargets): string {
  const f = spec.fields;
  const b = spec.body;
  const s = b.spaced;
  const utf7 = spec.media.encoding === 'utf7';
  const otherType = FLAG_TYPES.find((x) => x !== f.type)!;
  const smuggledParameters = `{"rollout":"${(f.rollout + 37) % 101}","stickiness":"default","groupId":"${t.flag}"}`;
  const parameters = `{"rollout":"${f.rollout}","stickiness":"default","groupId":${JSON.stringify(t.flag)}}`;
  const constraints = `[{"contextName":"userId","operator":"IN","values":${JSON.stringify(f.constraintValues)}}]`;

  if (route.body === 'none') return '{"name":"stray"}';
  if (route.body === 'patch' && route.action === 'variants.update') {
    // The slot's flag has one variant, `v0`, per environment (see prepare); the patch renames it.
    const op: Entry[] = [['"op"', '"replace"'], ['"path"', '"/0/name"'], [key('value', b.escapedKey), stringValue(`v${f.rollout + 1}`, b, undefined)]];
    return `[${object([...withDuplicate(op, 'op', 'test', b), ...extras(b, 'n')], s)}]`;
  }
  if (route.body === 'array') {
    const items = route.action === 'strategy.reorder'
      ? [...t.strategyIds].reverse().map((id, i) => object([[key('id', b.escapedKey), JSON.stringify(id)], ['"sortOrder"', String(i)]], s))
      : [object([[key('name', b.escapedKey), stringValue(`v${f.rollout + 1}`, b, undefined)], ['"weight"', '1000'], ['"weightType"', '"variable"'],
          ['"stickiness"', '"default"'], ...extras(b, 'n')], s)];
    return `[${items.join(',')}]`;
  }
  if (route.body === 'patch') {
    const isFlag = route.action === 'flag.update';
    const first: Entry[] = isFlag
      ? [['"op"', '"replace"'], ['"path"', '"/type"'], [key('value', b.escapedKey), JSON.stringify(f.type)]]
      : [['"op"', '"replace"'], ['"path"', '"/parameters/rollout"'], [key('value', b.escapedKey), JSON.stringify(String(f.rollout))]];
    // The last op's value is the last string of the body: where a UTF-7 payload can close it and add an op.
    const hidden = !utf7 ? undefined : isFlag
      ? `"},{"op":"replace","path":"/type","value":"${otherType}`
      : `"},{"op":"replace","path":"/parameters/rollout","value":"${(f.rollout + 37) % 101}`;
    const last: Entry[] = isFlag
      ? [['"op"', '"replace"'], ['"path"', '"/description"'], ['"value"', stringValue(f.description, b, hidden)]]
      : [['"op"', '"replace"'], ['"path"', '"/title"'], ['"value"', stringValue(f.title, b, hidden)]];
    const firstObject = object([...withDuplicate(first, 'op', 'test', b), ...extras(b, 'n')], s);
    return `[${firstObject},${object(last, s)}]`;
  }
  if (route.action === 'flag.create' && route.pattern.endsWith('/clone')) {
    // No UTF-7 payload: the name is the body's only string, and Unleash refuses names with `+`.
    const hidden = undefined;
    const entries: Entry[] = [['"replaceGroupId"', String(f.impressionData)], ...extras(b, 'n'), [key('name', b.escapedKey), stringValue(t.freshName, { ...b, escapedValue: undefined }, hidden)]];
    return object(withDuplicate(entries, 'name', t.hiddenName, b), s);
  }
  switch (route.action) {
    case 'flag.create':
    case 'flag.update': {
      const entries: Entry[] = [];
      if (route.action === 'flag.create') entries.push([key('name', b.escapedKey), JSON.stringify(t.freshName)]);
      entries.push([route.action === 'flag.create' ? '"type"' : key('type', b.escapedKey), JSON.stringify(f.type)]);
      entries.push(['"impressionData"', String(f.impressionData)]);
      if (route.action === 'flag.create' && f.staleOnCreate !== undefined) entries.push(['"stale"', String(f.staleOnCreate)]);
      entries.push(...extras(b, 'n'));
      const hidden = !utf7 ? undefined : route.action === 'flag.create' ? `","name":"${t.hiddenName}` : `","type":"${otherType}`;
      // Description last: a smuggled key after it overrides the visible one for a UTF-7 reader.
      const all = [...entries, ['"description"', stringValue(f.description, b, hidden)] as Entry];
      return object(withDuplicate(all, 'description', 'decoy', b), s);
    }
    case 'strategy.create':
    case 'strategy.update': {
      const entries: Entry[] = [
        [key('name', b.escapedKey), '"flexibleRollout"'],
        ['"parameters"', parameters],
        ['"constraints"', constraints],
        ['"disabled"', String(f.disabled)],
      ];
      if (b.number) entries.push(['"sortOrder"', b.number]);
      if (b.depth) entries.push(['"deep"', `${'['.repeat(b.depth)}1${']'.repeat(b.depth)}`]);
      const hidden = utf7 ? `","parameters":${smuggledParameters},"title":"x` : undefined;
      const all = [...entries, ['"title"', stringValue(f.title, b, hidden)] as Entry];
      return object(withDuplicate(all, 'title', 'decoy', b), s);
    }
    default:
      break;
  }
  if (route.flagKeyFrom === 'features') {
    const entries: Entry[] = [[key('features', b.escapedKey), `[${stringValue(t.flag, { ...b, escapedValue: undefined }, undefined)}]`]];
    if (route.action === 'flag.stale') entries.push(['"stale"', String(f.disabled)]);
    entries.push(...extras(b, 'n'));
    return object(withDuplicate(entries, 'features', 'decoy', b), s);
  }
  switch (route.action) {
    case 'variants.update': {
      const variant = object([['"name"', JSON.stringify(`v${f.rollout + 1}`)], ['"weight"', '1000'], ['"weightType"', '"variable"'], ['"stickiness"', '"default"']], s);
      const envs = spec.fields.impressionData ? ['development', 'production'] : [spec.environment];
      const entries: Entry[] = [[key('variants', b.escapedKey), `[${variant}]`], ['"environments"', JSON.stringify(envs)], ...extras(b, 'n')];
      return object(withDuplicate(entries, 'environments', 'decoy', b), s);
    }
    case 'dependency.add': {
      const entries: Entry[] = [[key('feature', b.escapedKey), stringValue(t.parent, { ...b, escapedValue: undefined }, undefined)],
        ['"enabled"', String(!f.disabled)], ...extras(b, 'n')];
      return object(withDuplicate(entries, 'enabled', 'decoy', b), s);
    }
    case 'flag.complete': {
      const entries: Entry[] = [[key('status', b.escapedKey), '"kept"'], ...extras(b, 'n')];
      return object(withDuplicate(entries, 'status', 'decoy', b), s);
    }
    case 'link.create':
    case 'link.update': {
      const hidden = utf7 ? `","url":"https://hidden.test/${t.hiddenName}` : undefined;
      const entries: Entry[] = [[key('url', b.escapedKey), JSON.stringify(`https://example.test/${t.freshName}`)], ...extras(b, 'n'),
        ['"title"', stringValue(f.title, b, hidden)]];
      return object(withDuplicate(entries, 'title', 'decoy', b), s);
    }
    case 'tag.add': {
      const entries: Entry[] = [[key('type', b.escapedKey), '"simple"'], ...extras(b, 'n'), ['"value"', JSON.stringify(t.tagNew)]];
      return object(withDuplicate(entries, 'value', 'decoy', b), s);
    }
    case 'tag.update': {
      const entries: Entry[] = [
        [key('addedTags', b.escapedKey), `[${Array(spec.fields.tagTwice ? 2 : 1).fill(`{"type":"simple","value":${JSON.stringify(t.tagNew)}}`).join(',')}]`],
        ['"removedTags"', `[{"type":"simple","value":${JSON.stringify(t.tagOld)}}]`],
        ...extras(b, 'n'),
      ];
      return object(withDuplicate(entries, 'removedTags', 'decoy', b), s);
    }
    default:
      throw new TypeError(`no body template for ${route.method} ${route.pattern} (${route.action}): add one to the differential kit`);
  }
}

/**
 * One scalar of the body (the `retype`-th, counted in document order) written in another JSON type
 * that Unleash's validator coerces back: a boolean as `"true"`, `0`/`1` or `null`; a number as a
 * string; a string as a number, a boolean or `null`. The other body tricks need the text as written:
 * a body that does not parse as plain JSON is left alone.
 */
function retyped(text: string, retype: number | undefined): string {
  if (retype === undefined) return text;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  const leaves: Array<{ holder: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (child !== null && typeof child === 'object') walk(child);
      else leaves.push({ holder: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
    }
  };
  walk(doc);
  if (leaves.length === 0) return text;
  const { holder, key } = leaves[retype % leaves.length]!;
  const value = (holder as Record<string | number, unknown>)[key];
  const forms = (): unknown[] => {
    if (typeof value === 'boolean') return [String(value), value ? 1 : 0, null];
    if (typeof value === 'number') return [String(value)];
    if (typeof value === 'string') return [/^-?\d+(\.\d+)?$/.test(value) ? Number(value) : null, value === 'true' || value === 'false' ? value === 'true' : null];
    return [value === null ? '' : null];
  };
  const choices = forms();
  (holder as Record<string | number, unknown>)[key] = choices[Math.floor(retype / leaves.length) % choices.length];
  return JSON.stringify(doc);
}

function encodeBody(text: string, spec: UnleashSpec): Buffer {
  const m = spec.media;
  switch (m.encoding) {
    case 'utf16le':
      return Buffer.concat([m.bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(text, 'utf16le')]);
    case 'latin1':
      return Buffer.from(text, 'latin1');
    default:
      return Buffer.concat([m.bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
  }
}
