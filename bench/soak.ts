/**
 * `npm run bench:soak`: flaggate (built JavaScript) in front of the stub platform under 64 clients'
 * allowed changes for BENCH_SOAK_SECONDS (default 600), its RSS sampled every 10 s. Memory that
 * grows with the number of changes served (a leak) shows as a rising line: the report compares the
 * first and the last minute. Writes bench/SOAK.md; every process it starts is stopped by PID.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchedAs as describeLauncher, readLauncher } from '../test/support/launcher-flags.js';
import { memoryOf, startFlaggateProcess, startTsChild } from './children.js';
import { measureThroughput } from './load.js';
import { describeMachine, table } from './report.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const launchedAs = describeLauncher(readLauncher(root, 'dist/cli.js'));
const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const CLIENTS = 64;
const SAMPLE_SECONDS = 10;
const log = (msg: string): void => void process.stderr.write(`[soak] ${msg}\n`);

const stub = await startTsChild<{ url: string }>(join(root, 'bench/platform-stub.ts'), [], 'platform stub');
const overrides = { 'platform.name': 'unleash', 'platform.targetUrl': stub.hello.url, 'platform.targetToken': '*:*.stub-admin-token' };
const fg = await startFlaggateProcess(overrides);
try {
  const headers = { authorization: `Bearer ${fg.hello.tokens.releaseEngineer}` };
  const samples: Array<{ second: number; rssMiB: number; changesPerSecond: number }> = [];
  const started = performance.now();
  for (let slice = 0; slice * SAMPLE_SECONDS < SECONDS; slice += 1) {
    const r = await measureThroughput((i, c) => ({ method: 'POST', url: `${fg.hello.proxyUrl}/api/admin/projects/default/features/soak.f${c}/environments/development/${i % 2 === 0 ? 'on' : 'off'}`, headers }), CLIENTS, SAMPLE_SECONDS);
    const second = Math.round((performance.now() - started) / 1000);
    samples.push({ second, rssMiB: memoryOf(fg.pid).rssMiB, changesPerSecond: r.perSecond });
    log(`${second} s: RSS ${samples.at(-1)!.rssMiB.toFixed(1)} MiB, ${r.perSecond.toFixed(0)} changes/s`);
  }
  const perMinute = Math.max(1, Math.round(60 / SAMPLE_SECONDS));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(samples.slice(0, perMinute).map((s) => s.rssMiB));
  const last = mean(samples.slice(-perMinute).map((s) => s.rssMiB));
  const total = samples.reduce((n, s) => n + s.changesPerSecond * SAMPLE_SECONDS, 0);
  const machine = describeMachine();
  const md = [
    '# flaggate soak',
    '',
    `- date: ${new Date().toISOString()}; ${machine.cores} cores, ${machine.cpuModel}, Node.js ${machine.node}`,
    `- command: \`npm run bench:soak\`, BENCH_SOAK_SECONDS=${SECONDS}; ${CLIENTS} clients of allowed changes against the stub platform, flaggate from the built JavaScript with its default configuration, started as its launcher line starts it (\`${launchedAs}\`); about ${total.toFixed(0)} changes in all`,
    '',
    `RSS, mean of the first minute: ${first.toFixed(1)} MiB; of the last minute: ${last.toFixed(1)} MiB; change: ${(last - first).toFixed(1)} MiB (${(((last - first) * 100) / first).toFixed(1)}%).`,
    '',
    table(['second', 'RSS MiB', 'changes/s'], samples.map((s) => [s.second, s.rssMiB.toFixed(1), s.changesPerSecond.toFixed(0)])),
    '',
  ].join('\n');
  writeFileSync(join(root, 'bench/SOAK.md'), md);
  process.stdout.write(md);
} finally {
  await fg.stop();
  await stub.stop();
}
