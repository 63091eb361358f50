#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --heap-growing-percent=30 --no-liftoff
// The launcher line sizes memory for a long-running sidecar (bench/RESULTS.md, goal 5): a young
// generation of 4 MiB semi-spaces instead of 16; a full collection once the old generation grows by
// 30% of what survived the last one, instead of the several times V8 allows while memory is
// plentiful; two malloc arenas instead of up to eight per core (glibc); and the policy's WASM
// compiled by V8's optimizing tier once, as it loads (about 0.1 s at start): left to V8's own
// tiers, its largest functions were optimized once hot, under the first burst of load, which took
// about 30 MiB of malloc for a moment that glibc kept much of, so one fresh process in four peaked
// above 140 MiB. The Dockerfile and `npm start` set the same (test/deploy/launcher-flags.test.ts
// holds them equal).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS } from './verify-defaults.js';
import { FlaggateError } from './errors.js';
import type { KeyKind } from './rotate-keys.js';
import type { DriftRequest } from './drift/index.js';
import type { ChangeDetail, ChangeSummary, ChangesRequest } from './changes-client.js';
import { addAuthoringCommands } from './authoring/index.js';

// Each command imports the modules it runs when it runs: a verify or an export does not load the
// sidecar's (about 0.3 s of a command's start, which the shorter commands are mostly made of).
const program = new Command()
  .name('flaggate')
  .description('Policy-as-code authorization sidecar for feature-flag changes.')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the sidecar: the proxy port in front of the platform, and the control port')
  .option('--walkthrough', 'print a step-by-step walkthrough once listening')
  .action(async (opts: { walkthrough?: boolean }) => {
    const { loadConfig } = await import('./config/index.js');
    const { startFlaggate } = await import('./main.js');
    const { walkthroughText } = await import('./walkthrough.js');
    const config = loadConfig();
    const app = await startFlaggate(config);
    if (opts.walkthrough && config.platform.name === 'flagd') {
      process.stdout.write(walkthroughText({ proxyUrl: app.proxyUrl, controlUrl: app.controlUrl, cli: 'node dist/cli.js', dataDir: config.dataDir }));
    }
    // A second signal while the stop drains does not cut it short: changes in flight still get their
    // outcome (a process killed mid-forward leaves them in doubt). SIGKILL stops it at once.
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= app.close().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', () => void app.reloadPolicy());
  });

program
  .command('dev-token')
  .description('print a JWT from the development issuer (trusted by the default configuration only)')
  .requiredOption('--sub <id>', 'the subject (actor id)')
  .option('--role <role>', 'a role; repeat for several', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--name <display name>', 'the display name')
  .option('--ttl <seconds>', 'lifetime in seconds', positiveInt, 3600)
  .option('--data-dir <dir>', 'where the development key lives (default: FLAGGATE_DATA_DIR or ./data)')
  .action(async (opts: { sub: string; role: string[]; name?: string; ttl: number; dataDir?: string }) => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { mintDevToken } = await import('./identify/index.js');
    const config = loadConfig(opts.dataDir ? { overrides: { dataDir: resolve(opts.dataDir) } } : {});
    if (!config.identity.devIssuer) throw new FlaggateError('CONFIG_INVALID', 'the development issuer is not enabled in this configuration');
    const token = await mintDevToken({
      dataDir: config.dataDir,
      sub: opts.sub,
      roles: opts.role,
      ttlSeconds: opts.ttl,
      clock: systemClock,
      issuer: config.identity.issuer,
      audience: config.identity.audience,
      ...(opts.name ? { name: opts.name } : {}),
    });
    process.stdout.write(token + '\n');
  });

program
  .command('verify')
  .description('verify a ledger file, or every chain in the central PostgreSQL ledger: recompute every hash; exit 1 on any failure')
  .option('--db <path>', 'the SQLite ledger file')
  .option('--postgres <url>', 'the central PostgreSQL ledger (postgres://...)')
  .option(
    '--keys <jwks>',
    'checkpoint public keys to trust (JWKS file or keyring.json; default: audit-keys/ beside the --db file); with --postgres, CHAIN=JWKS once per chain',
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .option('--from <seq>', 'verify from this seq (range verification)', positiveInt)
  .option('--to <seq>', 'verify up to this seq', positiveInt)
  .option('--tsa-trust <pem>', 'RFC 3161 trust anchors (default: tsa/ca.crt beside the --db file)')
  .option('--tsa-untrusted <pem>', 'TSA certificate chain (default: tsa/tsa.crt beside the --db file)')
  .option('--upstream <path|url>', 'an upstream copy the ledger must reach: a JSON Lines stream or a postgres:// URL; repeat for several (default: audit.jsonl beside the --db file)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
  .option('--max-timestamp-delay <seconds>', 'how long after an entry its first timestamp token may be made', positiveInt, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS)
  .option('--clock-skew <seconds>', 'clock difference allowed between the ledger and the TSA', nonNegativeInt, DEFAULT_CLOCK_SKEW_SECONDS)
  .option('--archive', 'also check the ledger file against the WORM archive the configuration names (every archived segment present, intact, locked, equal to the local rows; every segment version the store holds for the chain held by the local rows)')
  .action(async (opts: { db?: string; postgres?: string; keys: string[]; from?: number; to?: number; tsaTrust?: string; tsaUntrusted?: string; upstream?: string[]; maxTimestampDelay: number; clockSkew: number; archive?: boolean }) => {
    const { readKeys } = await import('./audit/index.js');
    if (!opts.db === !opts.postgres) throw new FlaggateError('CONFIG_INVALID', 'give exactly one of --db and --postgres');
    if (opts.postgres) {
      const { verifyPostgresLedger } = await import('./replicate/index.js');
      const result = await verifyPostgresLedger(opts.postgres, opts.keys.length > 0 ? keysPerChain(opts.keys, readKeys) : undefined);
      const failed = result.chains.find((c) => !c.ok);
      process.stdout.write(JSON.stringify({ ...result, ...(failed?.failure ? { failure: { ...failed.failure, chainId: failed.chainId } } : {}) }, null, 2) + '\n');
      process.exitCode = result.ok ? 0 : 1;
      return;
    }
    if (opts.keys.length > 1) throw new FlaggateError('CONFIG_INVALID', 'give one --keys with --db');
    const { verifyLedgerFile } = await import('./verify-ledger-file.js');
    const report = await verifyLedgerFile({
      db: opts.db!,
      ...(opts.keys[0] ? { keys: opts.keys[0] } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      ...(opts.tsaTrust ? { tsaTrust: opts.tsaTrust } : {}),
      ...(opts.tsaUntrusted ? { tsaUntrusted: opts.tsaUntrusted } : {}),
      ...(opts.upstream ? { upstreams: opts.upstream } : {}),
      maxDelaySeconds: opts.maxTimestampDelay,
      skewSeconds: opts.clockSkew,
    });
    if (opts.archive) {
      const [{ verifyLedgerArchive }, { loadConfig }] = [await import('./archive-ledger-file.js'), await import('./config/index.js')];
      const archive = await verifyLedgerArchive(opts.db!, loadConfig());
      process.stdout.write(JSON.stringify({ ...report, ok: report.ok && archive.ok, archive }, null, 2) + '\n');
      process.exitCode = report.ok && archive.ok ? 0 : 1;
      return;
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  });

program
  .command('archive')
  .description('store the ledger segment sealed by the newest checkpoint in the configured bucket under a COMPLIANCE Object Lock, read it back, and record it in the chain; exit 1 when the lock probe fails')
  .option('--probe-lock', 'first prove the bucket refuses, with 403, to shorten the retention of or delete a locked version (on a probe object of its own)')
  .action(async (opts: { probeLock?: boolean }) => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { archiveLedgerFile } = await import('./archive-ledger-file.js');
    const result = await archiveLedgerFile({ config: loadConfig(), actor: userInfo().username, clock: systemClock, probe: opts.probeLock ?? false });
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    process.exitCode = result.probe && !result.probe.ok ? 1 : 0;
  });

program
  .command('export')
  .description('write an audit export package for a period, for auditors to verify offline')
  .requiredOption('--db <path>', 'the SQLite ledger file')
  .requiredOption('--out <dir>', 'the folder to write the package into')
  .option('--from <iso>', 'period start (inclusive), ISO 8601 UTC')
  .option('--to <iso>', 'period end (exclusive), ISO 8601 UTC')
  .option('--flag <key>', 'only this flag')
  .option('--environment <env>', 'only this environment')
  .option('--actor <id>', 'only this actor')
  .option('--action <action>', 'only this action')
  .option('--max-bytes <bytes>', 'refuse a package larger than this (default: audit.exportMaxBytes)', positiveInt)
  .action(async (opts: { db: string; out: string; from?: string; to?: string; flag?: string; environment?: string; actor?: string; action?: string; maxBytes?: number }) => {
    const { loadConfig } = await import('./config/index.js');
    const { exportLedgerFile } = await import('./export-ledger.js');
    const { retentionPolicy } = await import('./export-evidence.js');
    const config = loadConfig();
    const manifest = await exportLedgerFile({
      db: resolve(opts.db),
      out: resolve(opts.out),
      maxBytes: opts.maxBytes ?? config.audit.exportMaxBytes,
      retention: retentionPolicy(config.archive),
      verify: { maxDelaySeconds: config.verify.maxTimestampDelaySeconds, skewSeconds: config.verify.clockSkewSeconds },
      attestMaxEntries: config.attest.exportMaxEntries,
      onAttestSkipped: (why) => process.stderr.write(`the package carries no attestation: ${why}; run flaggate attest --export on it\n`),
      ...(opts.from ? { from: isoArg(opts.from, '--from') } : {}),
      ...(opts.to ? { to: isoArg(opts.to, '--to') } : {}),
      filters: {
        ...(opts.flag ? { flag: opts.flag } : {}),
        ...(opts.environment ? { environment: opts.environment } : {}),
        ...(opts.actor ? { actor: opts.actor } : {}),
        ...(opts.action ? { action: opts.action } : {}),
      },
    });
    process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
  });

program
  .command('verify-export')
  .description('verify an export package offline: no database, no server; exit 1 on any failure')
  .argument('<dir>', 'the package folder')
  .option('--keys <jwks>', 'checkpoint public keys to trust instead of the package copy (recommended: pin them)')
  .option('--tsa-trust <pem>', 'RFC 3161 trust anchors instead of the package copy')
  .option('--max-timestamp-delay <seconds>', 'how long after an entry its first timestamp token may be made', positiveInt, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS)
  .option('--clock-skew <seconds>', 'clock difference allowed between the ledger and the TSA', nonNegativeInt, DEFAULT_CLOCK_SKEW_SECONDS)
  .action(async (dir: string, opts: { keys?: string; tsaTrust?: string; maxTimestampDelay: number; clockSkew: number }) => {
    const { readKeys, verifyExport } = await import('./audit/index.js');
    const { verifyCoverage } = await import('./timestamp/index.js');
    const report = await verifyExport(resolve(dir), {
      verifyTokens: verifyCoverage,
      maxTimestampDelaySeconds: opts.maxTimestampDelay,
      clockSkewSeconds: opts.clockSkew,
      ...(opts.keys ? { keys: readKeys(resolve(opts.keys)) } : {}),
      ...(opts.tsaTrust ? { tsaTrustPem: readFileSync(resolve(opts.tsaTrust), 'utf8') } : {}),
    });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  });

const attest = program
  .command('attest')
  .description('write a signed attestation report for a period (checks mapped to SOC 2 and ISO/IEC 27001 controls); exit 1 when it has findings')
  .option('--db <path>', 'the SQLite ledger file')
  .option('--export <dir>', 'an export package folder instead of a ledger file')
  .option('--from <iso>', 'period start (inclusive), ISO 8601 UTC')
  .option('--to <iso>', 'period end (exclusive), ISO 8601 UTC')
  .option('--out <dir>', 'the folder to write the report into')
  .option('--keys <jwks>', 'checkpoint public keys to verify the evidence against (default: beside the ledger, or the package copy)')
  .option('--keyring <dir>', 'the checkpoint keyring that signs the report (default: audit-keys/ beside --db)')
  .option('--controls <file>', 'the control mapping (default: the shipped compliance/controls.json)')
  .option('--bundle <path>', 'the policy bundle whose data names the critical flags (default: policy.bundle of the configuration)')
  .option('--max-timestamp-delay <seconds>', 'how long after an entry its first timestamp token may be made', positiveInt, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS)
  .option('--clock-skew <seconds>', 'clock difference allowed between the ledger and the TSA', nonNegativeInt, DEFAULT_CLOCK_SKEW_SECONDS)
  .action(async (opts: { db?: string; export?: string; from?: string; to?: string; out?: string; keys?: string; keyring?: string; controls?: string; bundle?: string; maxTimestampDelay: number; clockSkew: number }) => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { attestPeriod } = await import('./attest-ledger.js');
    if (!opts.from || !opts.to || !opts.out) throw new FlaggateError('CONFIG_INVALID', 'attest needs --from, --to and --out');
    const bundle = opts.bundle ?? loadConfig().policy.bundle;
    const report = await attestPeriod({
      from: isoArg(opts.from, '--from'),
      to: isoArg(opts.to, '--to'),
      out: resolve(opts.out),
      ...(opts.db ? { db: resolve(opts.db) } : {}),
      ...(opts.export ? { exportDir: resolve(opts.export) } : {}),
      ...(opts.keys ? { keys: resolve(opts.keys) } : {}),
      ...(opts.keyring ? { keyringDir: resolve(opts.keyring) } : {}),
      ...(opts.controls ? { controls: resolve(opts.controls) } : {}),
      ...(bundle ? { bundle: resolve(bundle) } : {}),
      maxDelaySeconds: opts.maxTimestampDelay,
      skewSeconds: opts.clockSkew,
      clock: systemClock,
    });
    process.stdout.write(JSON.stringify({ out: resolve(opts.out), period: report.period, verification: report.verification.ok, summary: report.summary, controls: report.controls.map((c) => ({ control: `${c.framework} ${c.id}`, result: c.result })) }, null, 2) + '\n');
    process.exitCode = report.summary.result === 'no exceptions' ? 0 : 1;
  });

attest
  .command('verify')
  .description('verify an attestation offline: its signature, and that the report and page are the signed ones; exit 1 on any failure')
  .argument('<dir>', 'the attestation folder')
  .option('--keys <jwks>', 'checkpoint public keys to trust instead of the folder copy (recommended: pin them)')
  .action(async (dir: string, opts: { keys?: string }) => {
    const { readKeys } = await import('./audit/index.js');
    const { verifyAttestation } = await import('./attest/index.js');
    const report = await verifyAttestation(resolve(dir), opts.keys ? readKeys(resolve(opts.keys)) : undefined);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  });

const policyCommand = program.command('policy').description('policy bundles');

policyCommand
  .command('verify')
  .description("verify a bundle's signature as the sidecar does before loading it; exit 1 when it is refused")
  .argument('<bundle>', 'the bundle (tar.gz, from opa build --signing-key)')
  .option('--key <file...>', 'PEM public key or JWKS files to trust (default: policy.verificationKey of the configuration)')
  .option('--key-id <id>', 'the key id of a single PEM key', 'default')
  .option('--scope <scope>', 'the scope the signature must carry')
  .option('--exclude <pattern...>', 'bundle paths left unverified (filepath.Match patterns)')
  .action(async (bundle: string, opts: { key?: string[]; keyId: string; scope?: string; exclude?: string[] }) => {
    const { loadConfig } = await import('./config/index.js');
    const { loadBundleTrust, readPolicyBundle } = await import('./policy/index.js');
    const config = loadConfig({
      overrides: {
        ...(opts.key ? { 'policy.verificationKey': opts.key.map((k) => resolve(k)), 'policy.verificationKeyId': opts.keyId } : {}),
        ...(opts.scope ? { 'policy.verificationScope': opts.scope } : {}),
        ...(opts.exclude ? { 'policy.verificationExclude': opts.exclude } : {}),
      },
    });
    // Verifying without a key would prove nothing: production's rule applies here whatever the mode.
    const trust = await loadBundleTrust(config.policy, 'production');
    try {
      const b = await readPolicyBundle(resolve(bundle), { trust });
      process.stdout.write(JSON.stringify({ ok: true, revision: b.revision, sha256: b.sha256, signer: b.signer }, null, 2) + '\n');
    } catch (err) {
      if (!(err instanceof FlaggateError)) throw err;
      process.stdout.write(JSON.stringify({ ok: false, code: err.code, message: err.message, details: err.details }, null, 2) + '\n');
      process.exitCode = 1;
    }
  });

addAuthoringCommands(policyCommand);

policyCommand
  .command('backtest')
  .description('run the recorded decisions of a period through a candidate bundle and show what would change; exit 0 either way')
  .requiredOption('--db <path>', 'the ledger file')
  .requiredOption('--bundle <file>', 'the candidate bundle')
  .option('--baseline <file>', 'the bundle that was active: entries it does not reproduce are listed apart')
  .option('--from <iso>', 'first decision time (inclusive)', (v) => isoArg(v, '--from'))
  .option('--to <iso>', 'last decision time (exclusive)', (v) => isoArg(v, '--to'))
  .option('--json', 'print the report as JSON')
  .action(async (opts: { db: string; bundle: string; baseline?: string; from?: string; to?: string; json?: boolean }) => {
    const { createPolicyEngine } = await import('./policy/index.js');
    const { backtestDecisions, formatBacktest, readLedgerEntries } = await import('./backtest/index.js');
    const candidate = await createPolicyEngine({ bundlePath: resolve(opts.bundle) });
    const baseline = opts.baseline ? await createPolicyEngine({ bundlePath: resolve(opts.baseline) }) : undefined;
    const report = backtestDecisions(readLedgerEntries(resolve(opts.db)), {
      candidate,
      ...(baseline ? { baseline } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
    });
    process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatBacktest(report));
  });

program
  .command('replay')
  .description('re-evaluate recorded decisions with the bundles that made them (from the bundle archive); exit 1 naming each seq that disagrees')
  .option('--db <path>', 'the ledger file (its bundle archive: policy-bundles/ beside it)')
  .option('--export <dir>', 'an export package, offline: its entries and the bundles it carries')
  .option('--postgres <url>', 'the central PostgreSQL ledger: its bundle archive, and with --chain (without --db or --export) that chain\'s entries')
  .option('--chain <id>', 'with --postgres alone: the chain to replay')
  .option('--archive <dir>', 'the bundle archive to use with --db (default: policy-bundles/ beside the ledger file)')
  .option('--bundle <file...>', 'more bundles (each matched to entries by its sha256)')
  .option('--from <seq>', 'first seq', positiveInt)
  .option('--to <seq>', 'last seq', positiveInt)
  .option('--json', 'print the report as JSON')
  .action(async (opts: { db?: string; export?: string; postgres?: string; chain?: string; archive?: string; bundle?: string[]; from?: number; to?: number; json?: boolean }) => {
    const { BUNDLE_ARCHIVE_DIR } = await import('./policy/index.js');
    const { archiveBundleFiles, loadReplayBundles, readExportForReplay, readLedgerEntries, readPostgresForReplay, replayDecisions } = await import('./backtest/index.js');
    const sources = [opts.db, opts.export, opts.chain].filter((o) => o !== undefined).length;
    if (sources !== 1) program.error('give one of --db, --export, or --postgres with --chain');
    if (opts.chain !== undefined && !opts.postgres) program.error('--chain needs --postgres');
    const upstream = opts.postgres ? await readPostgresForReplay(opts.postgres, opts.chain) : undefined;
    const source = opts.export
      ? readExportForReplay(resolve(opts.export))
      : opts.db
        ? { entries: readLedgerEntries(resolve(opts.db)), bundleFiles: archiveBundleFiles(resolve(opts.archive ?? join(dirname(resolve(opts.db)), BUNDLE_ARCHIVE_DIR))) }
        : { entries: upstream!.entries, bundleFiles: [] };
    const given = (opts.bundle ?? []).map((f): [undefined, string] => [undefined, resolve(f)]);
    const { engines, altered } = await loadReplayBundles([...source.bundleFiles, ...(upstream?.bundles ?? []), ...given]);
    const report = replayDecisions(source.entries, engines, {
      altered,
      ...(opts.from !== undefined ? { fromSeq: opts.from } : {}),
      ...(opts.to !== undefined ? { toSeq: opts.to } : {}),
    });
    if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      process.stdout.write(`${report.decisions} decisions replayed, ${report.agreed} agree, ${report.disagreements.length} disagree\n`);
      for (const d of report.disagreements) process.stdout.write(`seq ${d.seq}: ${d.kind} (recorded ${d.recorded.allow ? 'allow' : 'deny'}${d.replayed ? `, replayed ${d.replayed.allow ? 'allow' : 'deny'}` : ''})\n`);
    }
    process.exitCode = report.ok ? 0 : 1;
  });

const tsa = program.command('tsa').description('RFC 3161 timestamp tokens');

tsa
  .command('verify')
  .description('verify a TimeStampResp or bare token; exit 0 when valid, else 1 with the reason code')
  .requiredOption('--token <file>', 'DER TimeStampResp or token')
  .option('--digest <hex>', 'the SHA-256 digest the token must cover')
  .option('--data <file>', 'the data whose SHA-256 the token must cover')
  .requiredOption('--trust <pem>', 'trust anchors (PEM)')
  .option('--untrusted <pem>', 'intermediates and the TSA certificate (PEM)')
  .option('--request <tsq>', 'the TimeStampReq sent: the token must answer it (imprint and nonce)')
  .action(async (opts: { token: string; digest?: string; data?: string; trust: string; untrusted?: string; request?: string }) => {
    const { verifyTokenFile } = await import('./timestamp/index.js');
    if (!opts.digest && !opts.data && !opts.request) throw new FlaggateError('CONFIG_INVALID', 'give --digest, --data or --request');
    const result = verifyTokenFile({
      tokenPath: resolve(opts.token),
      trustPem: resolve(opts.trust),
      ...(opts.digest ? { digestHex: opts.digest } : {}),
      ...(opts.data ? { dataPath: resolve(opts.data) } : {}),
      ...(opts.untrusted ? { untrustedPem: resolve(opts.untrusted) } : {}),
      ...(opts.request ? { requestPath: resolve(opts.request) } : {}),
    });
    if (result.ok) process.stdout.write(`OK ${JSON.stringify(result.tstInfo)}\n`);
    else process.stdout.write(`${result.code}: ${result.message ?? ''}\n`);
    process.exitCode = result.ok ? 0 : 1;
  });

tsa
  .command('request')
  .description('ask a TSA for a token over a digest or a file; writes the DER TimeStampResp')
  .requiredOption('--url <url>', 'the TSA (application/timestamp-query over HTTP)')
  .option('--digest <hex>', 'SHA-256 digest, hex')
  .option('--data <file>', 'a file to digest')
  .requiredOption('--out <file>', 'where to write the reply')
  .action(async (opts: { url: string; digest?: string; data?: string; out: string }) => {
    const { requestToken } = await import('./timestamp/index.js');
    if (!opts.digest === !opts.data) throw new FlaggateError('CONFIG_INVALID', 'give exactly one of --digest and --data');
    const { tstInfo } = await requestToken({
      url: opts.url,
      outPath: resolve(opts.out),
      ...(opts.digest ? { digestHex: opts.digest } : {}),
      ...(opts.data ? { dataPath: resolve(opts.data) } : {}),
    });
    process.stdout.write(`${JSON.stringify(tstInfo)}\n`);
  });

const drift = program.command('drift').description("changes made on the platform around flaggate, through a running sidecar's control port");
const driftOptions = (c: Command) =>
  c
    .option('--control <url>', 'the control port (default: http://FLAGGATE_HOST:FLAGGATE_CONTROL_PORT)')
    .option('--token <jwt>', 'a bearer token whose roles the policy allows (default: FLAGGATE_TOKEN)');
const runDrift = async (opts: { control?: string; token?: string }, request: DriftRequest): Promise<Record<string, unknown>> => {
  const { loadConfig } = await import('./config/index.js');
  const { requestDrift } = await import('./drift/index.js');
  const config = loadConfig();
  const token = opts.token ?? process.env.FLAGGATE_TOKEN;
  if (!token) throw new FlaggateError('IDENTIFY_TOKEN_MISSING', 'pass --token or set FLAGGATE_TOKEN');
  const reply = await requestDrift(opts.control ?? `http://${config.host}:${config.controlPort}`, token, request);
  process.stdout.write(JSON.stringify(reply, null, 2) + '\n');
  return reply;
};
driftOptions(drift.command('check').description('check now; exit 1 when a change no flaggate change explains is found')).action(async (opts: { control?: string; token?: string }) => {
  const reply = await runDrift(opts, { kind: 'check' });
  if (Array.isArray(reply.detected) && reply.detected.length > 0) process.exitCode = 1;
});
driftOptions(drift.command('list').description('the findings and their acknowledgements').option('--open', 'only findings not yet acknowledged')).action(
  async (opts: { control?: string; token?: string; open?: boolean }) => {
    await runDrift(opts, { kind: 'list', open: opts.open === true });
  },
);
driftOptions(
  drift
    .command('acknowledge <id>')
    .description('acknowledge a finding (the event_id of its drift.detected entry), with a reason')
    .requiredOption('--reason <text>', 'why the change is accepted')
    .option('--ticket <id>', 'the ticket that records it'),
).action(async (id: string, opts: { control?: string; token?: string; reason: string; ticket?: string }) => {
  await runDrift(opts, { kind: 'acknowledge', id, reason: opts.reason, ticket: opts.ticket });
});

const changes = program.command('changes').description("held changes and their review, through a running sidecar's control port (the same rules as the console)");
type ChangesOptions = { control?: string; token?: string; json?: boolean };
const changesOptions = (c: Command) =>
  c
    .option('--control <url>', 'the control port (default: http://FLAGGATE_HOST:FLAGGATE_CONTROL_PORT)')
    .option('--token <jwt>', 'a bearer token whose roles the policy allows (default: FLAGGATE_TOKEN)')
    .option('--json', 'print the control port\'s JSON answer instead of a table');
const runChanges = async (opts: ChangesOptions, request: ChangesRequest): Promise<Record<string, unknown>> => {
  const { requestChanges } = await import('./changes-client.js');
  const token = opts.token ?? process.env.FLAGGATE_TOKEN;
  if (!token) throw new FlaggateError('IDENTIFY_TOKEN_MISSING', 'pass --token or set FLAGGATE_TOKEN');
  const control = opts.control ?? (await (async () => {
    const config = (await import('./config/index.js')).loadConfig();
    return `http://${config.host}:${config.controlPort}`;
  })());
  return requestChanges(control, token, request);
};
changesOptions(changes.command('list').description('held changes, pending ones by default').option('--status <status>', 'pending, applying, applied, failed, unknown, rejected, expired, stale, denied', 'pending').option('--all', 'every status'))
  .action(async (opts: ChangesOptions & { status: string; all?: boolean }) => {
    const { formatChangeList } = await import('./changes-client.js');
    const reply = await runChanges(opts, { kind: 'list', status: opts.all ? undefined : opts.status });
    process.stdout.write(opts.json ? JSON.stringify(reply, null, 2) + '\n' : formatChangeList(reply.changes as ChangeSummary[], Date.now()));
  });
changesOptions(changes.command('show <id>').description('one change: the request, the object before and after, each difference, the approvals'))
  .action(async (id: string, opts: ChangesOptions) => {
    const { formatChangeDetail } = await import('./changes-client.js');
    const reply = await runChanges(opts, { kind: 'show', id });
    process.stdout.write(opts.json ? JSON.stringify(reply, null, 2) + '\n' : formatChangeDetail(reply as unknown as ChangeDetail));
  });
for (const verdict of ['approve', 'reject'] as const) {
  const command = changes.command(`${verdict} <id>`).description(verdict === 'approve' ? 'approve a change; exit 1 unless it was applied or awaits more approvals' : 'reject a change, with a reason');
  if (verdict === 'reject') command.requiredOption('--reason <text>', 'why');
  else command.option('--reason <text>', 'why');
  changesOptions(command).action(async (id: string, opts: ChangesOptions & { reason?: string }) => {
    const reply = await runChanges(opts, { kind: verdict, id, reason: opts.reason });
    const status = String(reply.status);
    process.stdout.write(opts.json ? JSON.stringify(reply, null, 2) + '\n' : `${id}: ${status}${status === 'pending' ? ' (more approvals needed)' : ''}\n`);
    if (!['applied', 'pending', 'rejected'].includes(status)) process.exitCode = 1;
  });
}

const keys = program.command('keys').description('the signing keys: checkpoints, the embedded TSA, the development issuer');

keys
  .command('show')
  .description('print the public keys (JWKS), newest first')
  .action(async () => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { openKeyring } = await import('./audit/index.js');
    const config = loadConfig();
    process.stdout.write(JSON.stringify((await openKeyring(config.audit.keysDir, systemClock)).jwks(), null, 2) + '\n');
  });

keys
  .command('rotate')
  .description('replace signing keys (default: the checkpoint key) and record each rotation in the ledger; earlier public keys and certificates stay for verification')
  .option('--checkpoint', 'the Ed25519 checkpoint signing key')
  .option('--tsa', "the embedded TSA's key and certificate (a new self-issued CA; earlier ones stay trusted)")
  .option('--dev-issuer', "the development issuer's key (tokens it signed verify until they expire)")
  .option('--all', 'every key this configuration uses')
  .option('--reason <text>', 'why, recorded in the ledger entry')
  .action(async (opts: { checkpoint?: boolean; tsa?: boolean; devIssuer?: boolean; all?: boolean; reason?: string }) => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { rotateKeys } = await import('./rotate-keys.js');
    const config = loadConfig();
    const kinds: KeyKind[] = opts.all
      ? ['checkpoint', ...(config.timestamp.tsaUrls.length === 0 ? ['tsa' as const] : []), ...(config.identity.devIssuer ? ['dev-issuer' as const] : [])]
      : [...(opts.checkpoint ? ['checkpoint' as const] : []), ...(opts.tsa ? ['tsa' as const] : []), ...(opts.devIssuer ? ['dev-issuer' as const] : [])];
    const report = await rotateKeys({ config, kinds: kinds.length > 0 ? kinds : ['checkpoint'], actor: userInfo().username, clock: systemClock, ...(opts.reason ? { reason: opts.reason } : {}) });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  });

program
  .command('backup')
  .description("copy a live ledger file consistently with SQLite's online backup API (entries, checkpoints, tokens)")
  .option('--db <path>', 'the SQLite ledger file (default: audit.file of the configuration)')
  .requiredOption('--out <file>', 'where to write the copy (must not exist)')
  .action(async (opts: { db?: string; out: string }) => {
    const { loadConfig } = await import('./config/index.js');
    const { backupLedger } = await import('./backup-ledger.js');
    const report = await backupLedger({ db: opts.db ? resolve(opts.db) : loadConfig().audit.file, out: opts.out });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  });

program
  .command('restore')
  .description("rebuild a lost sidecar's ledger from the central PostgreSQL copy; verified before and after copying, written only if both pass")
  .requiredOption('--from-postgres <url>', 'the central PostgreSQL ledger (postgres://...)')
  .requiredOption('--chain <id>', "the sidecar's audit.chainId")
  .option('--db <path>', 'the ledger file to write (default: audit.file of the configuration); must not exist')
  .option('--keys <jwks>', 'checkpoint public keys to trust (default: the configured keyring)')
  .action(async (opts: { fromPostgres: string; chain: string; db?: string; keys?: string }) => {
    const { loadConfig } = await import('./config/index.js');
    const { systemClock } = await import('./clock.js');
    const { readKeys } = await import('./audit/index.js');
    const { BUNDLE_ARCHIVE_DIR } = await import('./policy/index.js');
    const { restoreFromPostgres } = await import('./restore-ledger.js');
    const config = loadConfig();
    const report = await restoreFromPostgres({
      url: opts.fromPostgres,
      chainId: opts.chain,
      ledger: opts.db ? resolve(opts.db) : config.audit.file,
      keys: readKeys(opts.keys ? resolve(opts.keys) : join(config.audit.keysDir, 'keyring.json')),
      clock: systemClock,
      // The bundles its entries name go back to the archive: beside --db, else the data dir's.
      ...(opts.db ? {} : { archiveDir: join(config.dataDir, BUNDLE_ARCHIVE_DIR) }),
    });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  });

const dbCommand = program.command('db').description('the central PostgreSQL ledger, as its owner (never run by a sidecar)');

dbCommand
  .command('migrate')
  .description('create or update the flaggate schema: ledger, checkpoints, change tables, row-level security, the flaggate_writer role')
  .requiredOption('--postgres <url>', 'the database, as the schema owner (postgres://owner@...)')
  .action(async (opts: { postgres: string }) => {
    const { migrateDatabase } = await import('./db-admin.js');
    await migrateDatabase(opts.postgres);
    process.stdout.write('migrated\n');
  });

dbCommand
  .command('grant')
  .description("register a sidecar's login role as the one writer of its chain")
  .requiredOption('--postgres <url>', 'the database, as the schema owner')
  .requiredOption('--chain <id>', "the sidecar's audit.chainId")
  .requiredOption('--role <name>', "the sidecar's own login role (must exist; not superuser, BYPASSRLS, CREATEROLE or owner)")
  .option('--reassign', 'move a chain that another role writes to this one')
  .action(async (opts: { postgres: string; chain: string; role: string; reassign?: boolean }) => {
    const { grantChainWriter } = await import('./db-admin.js');
    const grant = await grantChainWriter(opts.postgres, { chainId: opts.chain, role: opts.role, reassign: opts.reassign ?? false });
    process.stdout.write(JSON.stringify(grant) + '\n');
  });

/** `CHAIN=JWKS` pairs: one key set per chain, so a checkpoint signed by another sidecar's key does not pass. */
function keysPerChain(pairs: string[], readKeys: (path: string) => JSONWebKeySet): Map<string, JSONWebKeySet> {
  const keys = new Map<string, JSONWebKeySet>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw new FlaggateError('CONFIG_INVALID', `--keys with --postgres takes CHAIN=JWKS (one key set per chain, so one sidecar's key cannot vouch for another's chain): "${pair}"`);
    }
    const chainId = pair.slice(0, at);
    if (keys.has(chainId)) throw new FlaggateError('CONFIG_INVALID', `--keys names chain "${chainId}" twice`);
    keys.set(chainId, readKeys(resolve(pair.slice(at + 1))));
  }
  return keys;
}

function isoArg(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`${name} must be an ISO 8601 time`);
  return new Date(ms).toISOString();
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of seconds');
  return n;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof FlaggateError) {
    process.stderr.write(`flaggate: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`flaggate: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(2);
});
