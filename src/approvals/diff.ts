/** One difference between the state before a change and what the change asks for. */
export interface StateDiff {
  /** JSON Pointer (RFC 6901) into the state. */
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * The leaves that differ between `before` and `after`, by JSON Pointer. Arrays compare by index; a
 * value present on one side only shows `null` on the other.
 */
export function diffStates(before: unknown, after: unknown, path = ''): StateDiff[] {
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) =>
      diffStates((before as Record<string, unknown>)[k] ?? null, (after as Record<string, unknown>)[k] ?? null, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`),
    );
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || '/', before, after }];
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
