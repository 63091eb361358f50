import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  // A stage sees its own files and the shared modules, never express or policy internals.
  { files: ['src/adapters/**'], rules: { 'no-restricted-imports': ['error', { patterns: ['**/policy/**', 'express'] }] } },
  { files: ['src/policy/**'], rules: { 'no-restricted-imports': ['error', { patterns: ['**/adapters/*/**', 'express', '**/audit/**'] }] } },
  { files: ['src/audit/verify.ts'], rules: { 'no-restricted-imports': ['error', { patterns: ['./ledger.js', 'better-sqlite3'] }] } },
);
