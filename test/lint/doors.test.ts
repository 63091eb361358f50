/** The door rule in eslint.config.js bites: a stage reached past its index.ts fails lint. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('stage doors', () => {
  it.each([
    { file: 'src/approvals/x.ts', spec: '../audit/entry.js' },
    { file: 'src/platforms/unleash/x.ts', spec: '../../audit/new-entry.js' },
    { file: 'src/pipeline/x.ts', spec: '../replicate/sinks/jsonl.js' },
    { file: 'src/audit/verify-x.ts', spec: './ledger.js' },
    { file: 'src/policy/x.ts', spec: '../audit/index.js' },
  ])('refuses $spec from $file', async ({ file, spec }) => {
    expect(await restrictedImports(file, `import type { X } from '${spec}';\nexport type Y = X;\n`)).not.toEqual([]);
  });

  it.each([
    { file: 'src/approvals/x.ts', spec: '../audit/index.js' },
    { file: 'src/platforms/unleash/x.ts', spec: '../platform.js' },
    { file: 'src/platforms/unleash/x.ts', spec: '../../errors.js' },
    { file: 'src/pipeline/x.ts', spec: './stages.js' },
  ])('allows $spec from $file', async ({ file, spec }) => {
    expect(await restrictedImports(file, `import type { X } from '${spec}';\nexport type Y = X;\n`)).toEqual([]);
  });
});
