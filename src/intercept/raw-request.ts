/** What the intercept stage hands on: the request exactly as received, plus the digest of its body. */
export interface RawRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  /** Header names lower-cased; repeated headers joined with ", " as Node does. */
  headers: Record<string, string>;
  body: Buffer;
  /** Hex SHA-256 of `body`. */
  bodySha256: string;
}

/** The path without its query string. */
export function pathOnly(req: RawRequest): string {
  const q = req.path.indexOf('?');
  return q === -1 ? req.path : req.path.slice(0, q);
}
