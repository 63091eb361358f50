import { createHash } from 'node:crypto';
import type { RawRequest } from '../../src/intercept/raw-request.js';

/** A RawRequest as the intercept stage would build it. */
export function rawRequest(method: string, path: string, body: string | Buffer = '', headers: Record<string, string> = {}): RawRequest {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return { method, path, headers, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
}
