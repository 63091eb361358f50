import { createHash } from 'node:crypto';
import type { DecidedRequest } from '../platform.js';

/** The request to forward, and the digest of exactly the body it will carry. */
export function decidedRequest(method: string, target: string, contentType: string | null, body: Buffer): DecidedRequest {
  return { method, target, contentType, body, bodySha256: createHash('sha256').update(body).digest('hex') };
}
