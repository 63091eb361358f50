/** The length rule in eslint.config.js bites: a function in src/ over 80 lines fails lint. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function lengthErrors(filePath: string, lines: number): Promise<string[]> {
  const body = Array.from({ length: lines }, (_, i) => `  total += ${i};`).join('\n');
  const [result] = await eslint.lintText(`export function long(): number {\n  let total = 0;\n${body}\n  return total;\n}\n`, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'max-lines-per-function').map((m) => m.message);
}

describe('function length', () => {
  it('refuses a function over 80 lines in src/', async () => {
    expect(await lengthErrors('src/audit/x.ts', 80)).not.toEqual([]);
  });

  it('allows one of 80 lines', async () => {
    expect(await lengthErrors('src/audit/x.ts', 76)).toEqual([]);
  });

  it('leaves tests alone', async () => {
    expect(await lengthErrors('test/audit/x.test.ts', 200)).toEqual([]);
  });
});
