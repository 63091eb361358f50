import { parse as parseTree, type ValueNode } from '@humanwhocodes/momoa';

/**
 * Whether some object in the JSON text `text` names a key twice: such text means one thing to
 * JSON.parse (the last value) and another to a reader that keeps the first, so a verifier refuses
 * it. Only for text already known to parse, and off the fast path (it builds a syntax tree).
 */
export function namesAKeyTwice(text: string): boolean {
  const twice = (node: ValueNode): boolean => {
    if (node.type === 'Array') return node.elements.some((e) => twice(e.value));
    if (node.type !== 'Object') return false;
    const names = new Set<string>();
    for (const m of node.members) {
      const name = m.name.type === 'String' ? m.name.value : m.name.name;
      if (names.has(name) || twice(m.value)) return true;
      names.add(name);
    }
    return false;
  };
  return twice(parseTree(text, { mode: 'json' }).body);
}
