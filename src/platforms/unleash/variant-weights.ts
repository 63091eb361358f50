/**
 * Variants as Unleash stores them. Before it stores a list (environment variants, strategy
 * variants, an import's), Unleash rewrites the weights (`fixVariantWeights` in its feature service):
 * every `variable` variant gets an equal share of what the `fix` ones leave of 1000, the first ones
 * one more while a remainder lasts; a variant of neither type is dropped; the list is sorted by
 * name. A `variable` weight sent as 100 may be stored as 500: the entry records the stored list, so
 * the policy judges the split users get. A list Unleash refuses (no `variable` variant, `fix`
 * weights over 1000) is recorded as sent: nothing is stored.
 */
import { isObject, type JsonObject } from './body.js';

export function storedVariants(list: unknown[]): unknown[] {
  if (!list.every(isObject)) return list;
  const variable = list.filter((v) => v.weightType === 'variable');
  const fixed = list.filter((v) => v.weightType === 'fix');
  if (list.length === 0 || variable.length === 0) return list;
  if (!fixed.every((v) => typeof v.weight === 'number')) return list;
  const fixedWeights = fixed.reduce((sum, v) => sum + (v.weight as number), 0);
  if (fixedWeights > 1000) return list;
  const share = Math.floor((1000 - fixedWeights) / variable.length);
  let remainder = (1000 - fixedWeights) % variable.length;
  const shared = variable.map((v): JsonObject => {
    const weight = remainder > 0 ? share + 1 : share;
    if (remainder > 0) remainder--;
    return { ...v, weight };
  });
  // Unleash sorts with localeCompare too: the order decides which users get which variant.
  return [...shared, ...fixed].sort((a, b) => String(a.name).localeCompare(String(b.name)));
}
