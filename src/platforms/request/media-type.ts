/**
 * Media types an adapter declares for request bodies. The platform decodes the body by the
 * Content-Type it receives, so flaggate accepts only the declared forms (checked with the same
 * `content-type` package and version Unleash's body-parser uses, and again as normalized text so
 * that duplicated or oddly quoted parameters never pass), and then writes the header itself.
 */
import contentType from 'content-type';
import { FlaggateError } from '../../errors.js';

export interface DeclaredMediaType {
  /** Lower-case type/subtype, e.g. `application/json`. */
  type: string;
  /** Parameters that may appear (each at most once) and the one value each may have, lower-case. */
  parameters: Readonly<Record<string, string>>;
  /** The header flaggate sends to the platform. */
  forwardAs: string;
}

export const JSON_UTF8: DeclaredMediaType = {
  type: 'application/json',
  parameters: { charset: 'utf-8' },
  forwardAs: 'application/json',
};

/**
 * Checks the request's Content-Type (and Content-Encoding) against the declared list and returns
 * the header to forward. Throws ADAPT_MEDIA_TYPE_UNSUPPORTED (415) otherwise.
 */
export function acceptMediaType(headers: Record<string, string>, declared: readonly DeclaredMediaType[]): string {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw unsupported(headers, `content-encoding ${encoding.slice(0, 64)} is not accepted`);
  }
  const header = headers['content-type'];
  if (header === undefined) throw unsupported(headers, 'a body needs a content-type');
  let parsed: contentType.ParsedMediaType;
  try {
    parsed = contentType.parse(header);
  } catch (cause) {
    throw unsupported(headers, `content-type is not a valid media type (${(cause as Error).message})`);
  }
  const spoken = normalize(header);
  for (const d of declared) {
    if (parsed.type !== d.type) continue;
    const names = Object.keys(parsed.parameters);
    if (!names.every((n) => d.parameters[n] !== undefined && parsed.parameters[n]!.toLowerCase() === d.parameters[n])) continue;
    // Duplicates collapse in the parse (last wins): the text itself must be one declared form.
    const forms = [d.type, ...Object.entries(d.parameters).map(([k, v]) => `${d.type};${k}=${v}`)];
    if (forms.includes(spoken)) return d.forwardAs;
  }
  throw unsupported(headers, `content-type ${header.slice(0, 128)} is not one flaggate forwards (${declared.map((d) => d.type).join(', ')})`);
}

/** Lower-cased, without optional whitespace, a quoted plain value unquoted. */
function normalize(header: string): string {
  return header
    .toLowerCase()
    .replace(/[ \t]*([;=])[ \t]*/g, '$1')
    .replace(/="([a-z0-9-]*)"/g, '=$1')
    .trim();
}

function unsupported(headers: Record<string, string>, message: string): FlaggateError {
  return new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', message, {
    details: { contentType: headers['content-type']?.slice(0, 256) ?? null },
  });
}
