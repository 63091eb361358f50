/**
 * An environment's variants as Unleash stores them after a JSON Patch: it applies the patch to the
 * list it holds with fast-json-patch (the version Unleash 8.2 uses, so the pointers and operations
 * read alike), then shares the weights out and sorts the list (`variant-weights.ts`). Unleash's
 * UI edits variants this way, one index at a time, with weights of its own; the entry records the
 * list that results, read against the state the change is decided on.
 */
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { isObject } from './body.js';
import { storedVariants } from './variant-weights.js';

/**
 * The list Unleash stores once `patch` applies to `current`; null when the patch does not apply
 * (Unleash answers 400; it applies it as here, unvalidated) or leaves a weight that is not an integer (Unleash would sum it as text).
 */
export function variantsAfterPatch(current: readonly unknown[], patch: readonly unknown[]): unknown[] | null {
  let patched: unknown;
  try {
    patched = fastJsonPatch.applyPatch(fastJsonPatch.deepClone(current), patch as Operation[]).newDocument;
  } catch {
    return null;
  }
  if (!Array.isArray(patched) || !patched.every((v: unknown) => isObject(v) && Number.isInteger(v.weight))) return null;
  return storedVariants(patched);
}
