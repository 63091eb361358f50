import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

/** Installs the pinned opa CLI if needed, so a first-run build happens in a hook rather than inside a test. */
export function ensureOpa(): void {
  execFileSync('bash', [join(root, 'scripts', 'install-opa.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Builds a WASM bundle with the real opa CLI from inline Rego into `dir`; returns the tarball's path. */
export function buildTinyBundle(dir: string, opts: { rego: string; data?: unknown; revision: string }): string {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'policy.rego'), opts.rego);
  writeFileSync(join(src, 'data.json'), JSON.stringify(opts.data ?? {}));
  const out = join(dir, 'bundle.tar.gz');
  execFileSync(
    'bash',
    [join(root, 'scripts', 'opa.sh'), 'build', '-t', 'wasm', '-e', 'flaggate/authz/decision', '--revision', opts.revision, '-o', out, 'policy.rego', 'data.json'],
    { cwd: src, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return out;
}

/** The repository root, for scripts and committed bundles. */
export const repoRoot = root;

/**
 * Builds and signs a WASM bundle with the real opa CLI (`opa build -b . --signing-key … --signing-alg …`),
 * from inline Rego; `claims` go to `--claims-file` (a `keyid` or `scope` claim). Returns the tarball's path.
 */
export function buildSignedBundle(
  dir: string,
  opts: { rego: string; data?: unknown; revision: string; signingKey: string; alg: string; claims?: Record<string, unknown> },
): string {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'policy.rego'), opts.rego);
  writeFileSync(join(src, 'data.json'), JSON.stringify(opts.data ?? {}));
  const out = join(dir, 'bundle.tar.gz');
  const claims = opts.claims ? ['--claims-file', join(dir, 'claims.json')] : [];
  if (opts.claims) writeFileSync(join(dir, 'claims.json'), JSON.stringify(opts.claims));
  execFileSync(
    'bash',
    [join(root, 'scripts', 'opa.sh'), 'build', '-b', '.', '-t', 'wasm', '-e', 'flaggate/authz/decision', '--revision', opts.revision,
      '--signing-key', opts.signingKey, '--signing-alg', opts.alg, ...claims, '-o', out],
    { cwd: src, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return out;
}
