/**
 * Latency flaggate adds in front of each platform plug-in: the platform's test double (Flagsmith,
 * LaunchDarkly, GrowthBook, an in-house REST service by mapping) runs in this process, flaggate in
 * its own (from the built JavaScript, `npm run build`), and one flag is toggled on and off, one
 * change at a time, first straight to the double with its own credential, then through flaggate.
 * flagd has nothing to stand in front of (flaggate writes the flag file itself), so it gets only
 * the row through flaggate. Run alone: `npx tsx bench/platforms.ts [n]`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_KEY, startFlagsmithDouble } from '../test/support/flagsmith/double.js';
import { startGrowthBookDouble } from '../test/support/growthbook/double.js';
import { startInHouseService } from '../test/support/inhouse-flag-service.js';
import { startLaunchDarklyDouble } from '../test/support/launchdarkly/double.js';
import { startFlaggateProcess, type Child, type FlaggateChildHello } from './children.js';
import { measureLatency, percentile, type LatencyResult, type MakeReq, type Req } from './load.js';
import { ms, statusSummary, table } from './report.js';


/** One platform's allowed-change latency, straight to it (absent for flagd) and through flaggate. */
export interface PlatformLatency {
  platform: string;
  /** The change each request makes, as the table names it. */
  request: string;
  direct?: LatencyResult;
  via: LatencyResult;
}

type FlaggateHello = FlaggateChildHello;

/** A platform ready to be measured: where to reach it, how to toggle its flag, how to stop it. */
interface Target {
  platform: string;
  request: string;
  /** flaggate's config overrides (dotted keys) that put it in front of this platform. */
  overrides: Record<string, unknown>;
  /** The double's URL and its own credential; absent when there is nothing in front of which to stand. */
  direct?: { url: string; headers: Record<string, string> };
  /** Request `i` against `base`: on for even `i`, off for odd. */
  toggle(base: string, headers: Record<string, string>, i: number): Req;
  stop(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json' };
// Sent through flaggate on every platform: a production-class environment needs both.
const CONTEXT = { 'x-flaggate-reason': 'benchmark toggle', 'x-flaggate-ticket': 'CHG-1' };
// No critical_flags pattern (payments.*, billing.*, model.*) matches it, so no change is held.
const FLAG = 'bench-toggle';

/** Sends one setup request straight to a double and returns its JSON answer; any non-2xx throws. */
async function seed(url: string, headers: Record<string, string>, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url + path, { method, headers: { ...headers, ...(body === undefined ? {} : JSON_TYPE) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`seeding ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
}

async function flagsmith(): Promise<Target> {
  const key = 'Api-Key bench-organisation-key';
  const double = await startFlagsmithDouble({ mode: 'model', credentials: [key] });
  try {
    const headers = { authorization: key };
    const feature = (await seed(double.url, headers, 'POST', '/api/v1/projects/1/features/', { name: 'bench_toggle', default_enabled: false })).id as number;
    const states = (await seed(double.url, headers, 'GET', `/api/v1/environments/${DEV_KEY}/featurestates/?feature=${feature}`)) as { results?: Array<{ id: number }> };
    const state = states.results?.[0]?.id;
    if (state === undefined) throw new Error('seeding Flagsmith: no feature state for the new feature');
    const path = `/api/v1/environments/${DEV_KEY}/featurestates/${state}/`;
    return {
      platform: 'Flagsmith',
      request: `\`PATCH ${path.replace(DEV_KEY, '{env key}')}\` \`{"enabled": …}\` (Development)`,
      overrides: { 'platform.name': 'flagsmith', 'platform.targetUrl': double.url, 'platform.targetToken': key },
      direct: { url: double.url, headers },
      toggle: (base, h, i) => ({ method: 'PATCH', url: base + path, headers: { ...h, ...JSON_TYPE }, body: JSON.stringify({ enabled: i % 2 === 0 }) }),
      stop: () => double.stop(),
    };
  } catch (err) {
    await double.stop();
    throw err;
  }
}

async function launchDarkly(): Promise<Target> {
  const token = 'api-bench-0123456789';
  const double = await startLaunchDarklyDouble({ token });
  try {
    const headers = { authorization: token };
    await seed(double.url, headers, 'POST', '/api/v2/flags/default', { key: FLAG, name: 'Bench toggle', variations: [{ value: true }, { value: false }] });
    const semantic = { 'content-type': 'application/json; domain-model=launchdarkly.semanticpatch' };
    return {
      platform: 'LaunchDarkly',
      request: `\`PATCH /api/v2/flags/default/${FLAG}\` semantic patch \`turnFlagOn\`/\`turnFlagOff\` (test)`,
      overrides: { 'platform.name': 'launchdarkly', 'platform.targetUrl': double.url, 'platform.targetToken': token },
      direct: { url: double.url, headers },
      toggle: (base, h, i) => ({
        method: 'PATCH', url: `${base}/api/v2/flags/default/${FLAG}`, headers: { ...h, ...semantic },
        body: JSON.stringify({ environmentKey: 'test', instructions: [{ kind: i % 2 === 0 ? 'turnFlagOn' : 'turnFlagOff' }] }),
      }),
      stop: () => double.stop(),
    };
  } catch (err) {
    await double.stop();
    throw err;
  }
}

async function growthBook(): Promise<Target> {
  const secret = 'secret_bench0123456789';
  const double = await startGrowthBookDouble({ secretKey: secret });
  try {
    const headers = { authorization: `Bearer ${secret}` };
    await seed(double.url, headers, 'POST', '/api/v1/features', { id: FLAG, owner: 'bench@example.com', valueType: 'boolean', defaultValue: 'false', environments: { dev: { enabled: false, rules: [] } } });
    return {
      platform: 'GrowthBook',
      request: `\`POST /api/v1/features/${FLAG}/toggle\` \`{"environments": {"dev": …}}\` (dev)`,
      overrides: { 'platform.name': 'growthbook', 'platform.targetUrl': double.url, 'platform.targetToken': secret },
      direct: { url: double.url, headers },
      toggle: (base, h, i) => ({ method: 'POST', url: `${base}/api/v1/features/${FLAG}/toggle`, headers: { ...h, ...JSON_TYPE }, body: JSON.stringify({ environments: { dev: i % 2 === 0 } }) }),
      stop: () => double.stop(),
    };
  } catch (err) {
    await double.stop();
    throw err;
  }
}

/** The mapping the REST sidecar's end-to-end test configures for the in-house service. */
const REST_MAPPING = {
  credentialHeader: 'X-Api-Key',
  credentialFormat: '{token}',
  reads: ['GET /api/flags', 'GET /api/flags/{flag}'],
  state: { route: 'GET /api/flags/{flag}', pointer: '/environments' },
  writes: [
    { route: 'POST /api/flags', action: 'flag.create', flagKey: 'body:/name' },
    { route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env' },
    { route: 'DELETE /api/flags/{flag}', action: 'flag.delete' },
  ],
};

async function inHouseRest(): Promise<Target> {
  const key = 'svc-bench-0123456789';
  const service = await startInHouseService(key);
  try {
    const headers = { 'x-api-key': key };
    await seed(service.url, headers, 'POST', '/api/flags', { name: FLAG });
    const path = `/api/flags/${FLAG}?env=staging`;
    return {
      platform: 'in-house REST (`rest` mapping)',
      request: `\`PATCH ${path}\` \`{"enabled": …}\` (staging)`,
      overrides: { 'platform.name': 'rest', 'platform.targetUrl': service.url, 'platform.targetToken': key, 'platform.rest': REST_MAPPING },
      direct: { url: service.url, headers },
      toggle: (base, h, i) => ({ method: 'PATCH', url: base + path, headers: { ...h, ...JSON_TYPE }, body: JSON.stringify({ enabled: i % 2 === 0 }) }),
      stop: () => service.stop(),
    };
  } catch (err) {
    await service.stop();
    throw err;
  }
}

async function flagd(): Promise<Target> {
  // The flag file flaggate seeds in its data dir holds checkout.new-flow, off, in `production`.
  return {
    platform: 'flagd (flag file)',
    request: '`POST /flags/checkout.new-flow/enable` / `…/disable` (production)',
    overrides: { 'platform.name': 'flagd' },
    toggle: (base, h, i) => ({ method: 'POST', url: `${base}/flags/checkout.new-flow/${i % 2 === 0 ? 'enable' : 'disable'}`, headers: h }),
    stop: async () => undefined,
  };
}

/** Measures one platform: straight to it, then through a flaggate child; stops both, also on failure. */
async function measureOne(start: () => Promise<Target>, o: { n: number; warmup: number; log: (m: string) => void }): Promise<PlatformLatency> {
  const target = await start();
  let fg: Child<FlaggateHello> | undefined;
  try {
    const make = (base: string, headers: Record<string, string>): MakeReq => (i) => target.toggle(base, headers, i);
    let direct: LatencyResult | undefined;
    if (target.direct) {
      o.log(`${target.platform}: allowed change latency, direct`);
      direct = await measureLatency(make(target.direct.url, target.direct.headers), o.n, o.warmup);
    }
    fg = await startFlaggateProcess(target.overrides, { label: `flaggate (${target.platform})` });
    o.log(`${target.platform}: allowed change latency, through flaggate`);
    const via = await measureLatency(make(fg.hello.proxyUrl, { authorization: `Bearer ${fg.hello.tokens.releaseEngineer}`, ...CONTEXT }), o.n, o.warmup);
    return { platform: target.platform, request: target.request, ...(direct ? { direct } : {}), via };
  } finally {
    await fg?.stop();
    await target.stop();
  }
}

/** For each platform plug-in, `n` allowed changes (after `warmup`), one at a time, straight to it and through flaggate. */
export async function measurePlatforms(o: { n: number; warmup: number; log: (m: string) => void }): Promise<PlatformLatency[]> {
  const rows: PlatformLatency[] = [];
  for (const start of [flagsmith, launchDarkly, growthBook, inHouseRest, flagd]) rows.push(await measureOne(start, o));
  return rows;
}

const non2xx = (statuses: Map<number, number>): number => [...statuses].filter(([s]) => s < 200 || s >= 300).reduce((sum, [, c]) => sum + c, 0);
const p50p99 = (r: LatencyResult): string => `${ms(percentile(r.samples, 50))} / ${ms(percentile(r.samples, 99))}`;

function statusCell(row: PlatformLatency): string {
  const parts = [...(row.direct ? [['direct', row.direct] as const] : []), ['flaggate', row.via] as const];
  const bad = parts.reduce((sum, [, r]) => sum + non2xx(r.statuses), 0);
  const seen = parts.map(([name, r]) => `${name} ${statusSummary(r.statuses)}`).join('; ');
  return `${seen}; ${bad === 0 ? 'all 2xx' : `**${bad} non-2xx**`}`;
}

/** The section for the benchmark report: heading, what was measured, and one row per platform. */
export function renderPlatforms(rows: PlatformLatency[]): string[] {
  const added = (row: PlatformLatency): string => {
    if (!row.direct) return 'n/a (no platform to reach directly)';
    const d = (p: number): string => ms(percentile(row.via.samples, p) - percentile(row.direct!.samples, p));
    return `${d(50)} / ${d(99)}`;
  };
  const n = rows[0]?.via.samples.length ?? 0;
  return [
    '## Latency in front of each platform',
    '',
    `Each platform plug-in in front of its test double (the Flagsmith, LaunchDarkly and GrowthBook doubles, validated against the platforms' published API descriptions, and an in-house service governed by a \`rest\` mapping), in this process; flaggate in its own process from the built JavaScript (\`bench/flaggate-child.mjs\`, default config, release_engineer development token, reason and ticket headers). ${n} allowed changes, one at a time, toggle one non-critical flag on and off in the shape each platform's API takes: first straight to the double with the platform's own credential, then through flaggate, which also reads the state before each change, decides, records and replicates it. "flaggate adds" is the difference of the percentiles. flagd has no server to stand in front of (flaggate writes the flag file itself), so it has only the row through flaggate. The doubles validate every request and response, so the direct numbers are those of the doubles, not of the real platforms.`,
    '',
    table(
      ['platform', 'what the request is', 'direct p50/p99 ms', 'through flaggate p50/p99 ms', 'flaggate adds p50/p99 ms', 'statuses'],
      rows.map((row) => [row.platform, row.request, row.direct ? p50p99(row.direct) : 'n/a', p50p99(row.via), added(row), statusCell(row)]),
    ),
  ];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 200);
  const rows = await measurePlatforms({ n, warmup: Math.min(20, n), log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${renderPlatforms(rows).join('\n')}\n`);
}
