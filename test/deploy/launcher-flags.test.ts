import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLauncher } from '../support/launcher-flags.js';

const root = join(import.meta.dirname, '../..');
const { env, flags } = readLauncher(root);

describe('how flaggate is launched', () => {
  it('sets the same environment and node flags in the launcher line, the Dockerfile and npm start', () => {
    expect(flags).toContain('--max-semi-space-size=4');
    // The policy's WASM is optimized once, as it loads: optimizing it later, once hot, under load,
    // was goal 5's high peaks.
    expect(flags).toContain('--no-liftoff');
    expect(env).toEqual({ MALLOC_ARENA_MAX: '2' });
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(runtime);
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...flags, 'dist/cli.js']);
    for (const [name, value] of Object.entries(env)) expect(runtime).toMatch(new RegExp(`^ENV (?:.*\\\\\\n)*\\s*${name}=${value}\\b`, 'm'));
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    const assignments = Object.entries(env).map(([name, value]) => `${name}=${value} `).join('');
    expect(start).toContain(`${assignments}node ${flags.join(' ')} dist/cli.js serve`);
  });

  it('is how the README starts the sidecar: the build makes dist/cli.js executable, and no command line runs serve without it', () => {
    const build = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build;
    expect(build).toMatch(/&& chmod \+x dist\/cli\.js$/);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const serving = readme.split('\n').filter((line) => /dist\/cli\.js serve\b/.test(line) && !line.includes('`'));
    expect(serving.length).toBeGreaterThanOrEqual(4);
    for (const line of serving) expect(line).toMatch(/(?:^|\s)\.\/dist\/cli\.js serve\b/);
  });

  it('gives node flags it accepts, which set the heap they name', () => {
    const limit = (args: string[]) => spawnSync(process.execPath, [...args, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8' });
    const launched = limit(flags);
    expect(launched.stderr).toBe('');
    expect(launched.status).toBe(0);
    // Smaller semi-spaces make a smaller young generation, which V8 counts in the heap's limit.
    expect(Number(launched.stdout)).toBeLessThan(Number(limit([]).stdout));
    // A node that did not know a flag would refuse to start: the same flags with one misspelt do.
    const bad = spawnSync(process.execPath, [...flags, '--max-semi-space-sise=8', '-e', '0'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });

  it('runs through env -S as the launcher line is written', () => {
    const line = readFileSync(join(root, 'src/cli.ts'), 'utf8').split('\n', 1)[0]!;
    const words = line.slice('#!/usr/bin/env '.length);
    const r = spawnSync('/usr/bin/env', [words, '-p', 'JSON.stringify([process.env.MALLOC_ARENA_MAX, process.execArgv.slice(0, -2)])'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['2', flags]);
  });
});
