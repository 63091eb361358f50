/** The exchanges recorded from a real Flagsmith 2.265.0 (test/fixtures/flagsmith/, copied unmodified with its README), in order. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FLAGSMITH_DIR = resolve(import.meta.dirname, '../../fixtures/flagsmith');

export interface Recording {
  file: string;
  request: { method: string; path: string; headers: Record<string, string>; body: unknown };
  response: { status: number; headers: Record<string, string>; body: unknown };
}

export function loadRecordings(dir = join(FLAGSMITH_DIR, 'recordings')): Recording[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-.*\.json$/.test(f))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<Recording, 'file'>) }));
}

/** The request body as it went on the wire: JSON text, or the recorded text when it was not JSON. */
export function wireBody(r: Recording): string | undefined {
  const { body } = r.request;
  if (body === null) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}
