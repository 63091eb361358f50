/**
 * The request headers a held change keeps: what re-classifying its body needs (media type and
 * encoding) and flaggate's own context headers. Nothing else is stored or shown: not the client's
 * credentials (Authorization, cookies, API keys under any name), not its proxies' headers.
 */
const KEPT = new Set(['content-type', 'content-encoding', 'x-flaggate-reason', 'x-flaggate-ticket', 'x-flaggate-link-pr', 'x-flaggate-link-build', 'x-flaggate-link-experiment']);

/** The kept headers of a request (names lower-cased, as the raw request holds them). */
export function heldHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => KEPT.has(name.toLowerCase())));
}
