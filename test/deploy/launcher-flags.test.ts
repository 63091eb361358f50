import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launcherFlags } from '../support/launcher-flags.js';

const root = join(import.meta.dirname, '../..');
const flags = launcherFlags(root);

describe('the V8 flags flaggate is launched with', () => {
  it('are the same in the launcher line, the Dockerfile ENTRYPOINT and npm start', () => {
    expect(flags).toContain('--max-semi-space-size=8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...flags, 'dist/cli.js']);
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toContain(`node ${flags.join(' ')} dist/cli.js serve`);
  });

  it('are accepted by this node and set the heap they name', () => {
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
});
