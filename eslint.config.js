import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Doors: a stage folder under src/ is entered through its index.ts only. For a file `depth` folders
 * below src/, an import that climbs to src/ and goes into another folder must end in /index.js.
 * Per-folder extras add what a stage must never see at all.
 */
const stages = readdirSync(new URL('./src/', import.meta.url), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
const extras = {
  platforms: ['express', '**/policy/**'],
  policy: ['express', '**/audit/**', '**/platforms/*/**'],
};
// The verifier never imports the writer: what it checks must not depend on how it was written.
const verifierExtras = ['./ledger.js', './group-commit.js', './recorder.js', 'better-sqlite3'];
const door = (stage, depth) => ({
  regex: `^(\\.\\./){${depth}}(?!${stage}/)[A-Za-z0-9_-]+/(?!index\\.js$)`,
  message: 'enter another stage folder through its index.ts (src/<stage>/index.js)',
});
const doorRules = stages.flatMap((stage) =>
  [1, 2, 3].map((depth) => ({
    files: [`src/${stage}/${'*/'.repeat(depth - 1)}*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [door(stage, depth), ...(extras[stage] ?? []).map((group) => ({ group: [group] }))] }] },
  })),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'data/', 'test/support/unleash-server/', 'bundles/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', Response: 'readonly', Headers: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // A late-bound value read by a closure created before it is known (e.g. a listening URL).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Only src/config reads process.env.' }],
    },
  },
  { files: ['src/config/**', 'test/**', 'bench/**', 'scripts/**', 'src/cli.ts'], rules: { 'no-restricted-syntax': 'off' } },
  // A function that does not fit on a screen does more than one job: split it into named steps.
  { files: ['src/**/*.ts'], rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] } },
  ...doorRules,
  {
    files: ['src/audit/verify*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [door('audit', 1), ...verifierExtras.map((group) => ({ group: [group] }))] }] },
  },
);
