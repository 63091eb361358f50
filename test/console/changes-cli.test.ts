import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatChangeList, formatTable } from '../../src/changes-client.js';
import { mintDevToken } from '../../src/identify/index.js';
import { businessHours, startConsoleSidecar, type ConsoleSidecar } from './console-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FLAG = 'payments.instant-payouts';
const clock = businessHours();
let s: ConsoleSidecar;
let changeId: string;

/** `flaggate changes …` as a person runs it: a separate process, the token in FLAGGATE_TOKEN. */
async function flaggate(sub: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const token = await mintDevToken({ dataDir: s.dataDir, sub, roles: ['release_engineer'], clock, ttlSeconds: 600 });
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['--import', 'tsx', 'src/cli.ts', 'changes', ...args, '--control', s.app.controlUrl], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FLAGGATE_TOKEN: token },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  s = await startConsoleSidecar({}, clock);
  changeId = await s.hold('rita');
}, 30_000);
afterAll(async () => {
  await s?.stop();
});

describe('flaggate changes', () => {
  it('lists held changes as a table, and as JSON for scripts', async () => {
    const [table, json] = await Promise.all([flaggate('sam', 'list'), flaggate('sam', 'list', '--json')]);
    expect(table.code).toBe(0);
    const [header, rule, row] = table.stdout.split('\n');
    expect(header).toMatch(/^ID\s+FLAG\s+ENVIRONMENT\s+ACTION\s+REQUESTER\s+AGE\s+EXPIRES\s+NEEDS\s+STATUS$/);
    expect(rule).toMatch(/^-+( +-+)+$/);
    expect(row).toMatch(new RegExp(`^${changeId}\\s+${FLAG.replace('.', '\\.')}\\s+\\S+\\s+flag\\.enable\\s+rita\\s+.*pending$`));
    expect((JSON.parse(json.stdout) as { changes: Array<{ id: string }> }).changes.map((c) => c.id)).toEqual([changeId]);
  }, 60_000);

  it('shows one change with its differences; refuses the requester approving their own; a colleague approves and it is applied', async () => {
    const [show, own] = await Promise.all([flaggate('sam', 'show', changeId), flaggate('rita', 'approve', changeId, '--reason', 'mine')]);
    expect(show.stdout).toMatch(/^request\s+POST \/flags\/payments\.instant-payouts\/enable$/m);
    expect(show.stdout).toMatch(/^PATH\s+BEFORE\s+AFTER$/m);
    expect(show.stdout).toMatch(/"DISABLED"\s+"ENABLED"/);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/^flaggate: APPROVAL_SELF: /);

    const approved = await flaggate('sam', 'approve', changeId, '--reason', 'checked', '--json');
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ status: 'applied' });
    const flags = JSON.parse(readFileSync(join(s.dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> };
    expect(flags.flags[FLAG]!.state).toBe('ENABLED');
  }, 60_000);

  it('refuses an id that is not a change request id before asking the sidecar', async () => {
    const bad = await flaggate('sam', 'reject', 'not-an-id', '--reason', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('CHANGE_NOT_FOUND');
  }, 60_000);
});

describe('the tables', () => {
  it('pads each column to its widest cell', () => {
    expect(formatTable(['A', 'BB'], [['xyz', '1'], ['q', '22222']])).toBe('A    BB\n---  -----\nxyz  1\nq    22222\n');
    expect(formatChangeList([], 0)).toBe('No change matches.\n');
  });
});
