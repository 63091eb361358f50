import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkthroughText } from '../../src/walkthrough.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let app: TestFlaggate;

beforeAll(async () => {
  app = await startTestFlaggate();
});
afterAll(async () => app?.stop());

describe('the walkthrough serve --walkthrough prints', () => {
  it('runs as printed, step by step, with the outcomes it promises', async () => {
    const text = walkthroughText({ proxyUrl: app.proxyUrl, controlUrl: app.controlUrl, cli: 'node --import tsx src/cli.ts', dataDir: app.dataDir });
    const script = text.slice(text.indexOf('# 1.'), text.indexOf('Press Ctrl-C'));
    // Asynchronously: the sidecar answering these commands runs in this process.
    const { stdout: out } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(out).toContain('"code":"POLICY_DENIED"'); // step 3
    expect(out).toContain('"state":"ENABLED"'); // step 4
    expect(out).toContain('"status":"pending"'); // step 5: held
    expect(out).toContain('"code":"APPROVAL_SELF"');
    expect(out).toMatch(/ID +FLAG +ENVIRONMENT .*\n-.*\n[0-9a-f-]{36} +payments\.instant-payouts .*pending$/m); // step 5, as a table
    expect(out).toContain('"status":"applied"');
    expect(out).toMatch(/"ok":\s*true/); // step 7
    const flags = JSON.parse(readFileSync(`${app.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, { state: string }> };
    expect(flags.flags['payments.instant-payouts']!.state).toBe('ENABLED');
  }, 150_000);

  it('ends by sending people to the console', () => {
    const text = walkthroughText({ proxyUrl: 'http://127.0.0.1:8080', controlUrl: 'http://127.0.0.1:9090', cli: 'node dist/cli.js', dataDir: './data' });
    expect(text.trimEnd().split('\n').at(-1)!.trim()).toBe('open http://127.0.0.1:9090/console/');
  });
});
