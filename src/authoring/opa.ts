import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The opa CLI to run: `--opa`, else the pinned one of a source checkout (scripts/opa.sh builds it
 * on first use), else `opa` on the PATH (the container image ships it).
 */
export function opaCommand(explicit?: string): string[] {
  if (explicit) return [explicit];
  const pinned = fileURLToPath(new URL('../../scripts/opa.sh', import.meta.url));
  return existsSync(pinned) ? ['bash', pinned] : ['opa'];
}

/** Runs opa with `args`; resolves with its exit code and output (opa failing is a result, not an exception). */
export function runOpa(opa: string[], args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(opa[0]!, [...opa.slice(1), ...args], { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err); // not started at all
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}
