#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { openKeyring, openLedgerReader, verifyExport, verifyLedger } from './audit/index.js';
import { exportLedgerFile } from './export-ledger.js';
import { readKeys } from './audit/read-keys.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config/index.js';
import { FlaggateError } from './errors.js';
import { mintDevToken } from './identify/index.js';
import { startFlaggate } from './main.js';
import { verifyPostgresLedger } from './replicate/verify-postgres.js';
import { walkthroughText } from './walkthrough.js';
import { requestToken, verifyCoverage, verifyTokenFile } from './timestamp/index.js';

const program = new Command()
  .name('flaggate')
  .description('Policy-as-code authorization sidecar for feature-flag changes.')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the sidecar: the proxy port in front of the platform, and the control port')
  .option('--walkthrough', 'print a step-by-step walkthrough once listening')
  .action(async (opts: { walkthrough?: boolean }) => {
    const config = loadConfig();
    const app = await startFlaggate(config);
    if (opts.walkthrough && config.platform.name === 'flagd') {
      process.stdout.write(walkthroughText({ proxyUrl: app.proxyUrl, controlUrl: app.controlUrl, cli: 'node dist/cli.js', dataDir: config.dataDir }));
    }
    const stop = async () => {
      await app.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
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
  .option('--keys <jwks>', 'checkpoint public keys to trust (JWKS file or keyring.json; default: audit-keys/ beside the --db file)')
  .option('--from <seq>', 'verify from this seq (range verification)', positiveInt)
  .option('--to <seq>', 'verify up to this seq', positiveInt)
  .option('--tsa-trust <pem>', 'RFC 3161 trust anchors (default: tsa/ca.crt beside the --db file)')
  .option('--tsa-untrusted <pem>', 'TSA certificate chain (default: tsa/tsa.crt beside the --db file)')
  .action(async (opts: { db?: string; postgres?: string; keys?: string; from?: number; to?: number; tsaTrust?: string; tsaUntrusted?: string }) => {
    if (!opts.db === !opts.postgres) throw new FlaggateError('CONFIG_INVALID', 'give exactly one of --db and --postgres');
    if (opts.postgres) {
      const result = await verifyPostgresLedger(opts.postgres, opts.keys ? readKeys(resolve(opts.keys)) : undefined);
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      process.exitCode = result.ok ? 0 : 1;
      return;
    }
    const reader = openLedgerReader(resolve(opts.db!));
    try {
      const db = resolve(opts.db!);
      const keys = readKeys(opts.keys ? resolve(opts.keys) : resolve(dirname(db), 'audit-keys', 'keyring.json'));
      const report = await verifyLedger({
        read: reader.read,
        checkpoints: reader.checkpoints(),
        keys,
        ...(reader.chainId ? { chainId: reader.chainId } : {}),
        ...(opts.from ? { from: opts.from } : {}),
        ...(opts.to ? { to: opts.to } : {}),
      });
      const trustFile = opts.tsaTrust ? resolve(opts.tsaTrust) : resolve(dirname(db), 'tsa', 'ca.crt');
      const chainFile = opts.tsaUntrusted ? resolve(opts.tsaUntrusted) : resolve(dirname(db), 'tsa', 'tsa.crt');
      const tokens = reader.tokens();
      const timestamps = existsSync(trustFile)
        ? verifyCoverage({
            tokens,
            rowHashAt: reader.hashAt,
            headSeq: opts.to ?? report.head.seq,
            trust: { trustAnchorsPem: readFileSync(trustFile, 'utf8'), ...(existsSync(chainFile) ? { untrustedPem: readFileSync(chainFile, 'utf8') } : {}) },
          })
        : { ok: tokens.length === 0 && report.head.seq === 0, failures: [{ code: 'TSA_CHAIN_UNTRUSTED', message: `no TSA trust anchor at ${trustFile}` }] };
      const ok = report.ok && timestamps.ok;
      process.stdout.write(JSON.stringify({ ...report, ok, timestamps }, null, 2) + '\n');
      process.exitCode = ok ? 0 : 1;
    } finally {
      reader.close();
    }
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
    const manifest = await exportLedgerFile({
      db: resolve(opts.db),
      out: resolve(opts.out),
      maxBytes: opts.maxBytes ?? loadConfig().audit.exportMaxBytes,
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
  .action(async (dir: string, opts: { keys?: string; tsaTrust?: string }) => {
    const report = await verifyExport(resolve(dir), {
      verifyTokens: verifyCoverage,
      ...(opts.keys ? { keys: readKeys(resolve(opts.keys)) } : {}),
      ...(opts.tsaTrust ? { tsaTrustPem: readFileSync(resolve(opts.tsaTrust), 'utf8') } : {}),
    });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
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
  .action((opts: { token: string; digest?: string; data?: string; trust: string; untrusted?: string; request?: string }) => {
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
    if (!opts.digest === !opts.data) throw new FlaggateError('CONFIG_INVALID', 'give exactly one of --digest and --data');
    const { tstInfo } = await requestToken({
      url: opts.url,
      outPath: resolve(opts.out),
      ...(opts.digest ? { digestHex: opts.digest } : {}),
      ...(opts.data ? { dataPath: resolve(opts.data) } : {}),
    });
    process.stdout.write(`${JSON.stringify(tstInfo)}\n`);
  });

const keys = program.command('keys').description('the checkpoint signing keys');

keys
  .command('show')
  .description('print the public keys (JWKS), newest first')
  .action(async () => {
    const config = loadConfig();
    process.stdout.write(JSON.stringify((await openKeyring(config.audit.keysDir, systemClock)).jwks(), null, 2) + '\n');
  });

keys
  .command('rotate')
  .description('make a new Ed25519 key the active signer; earlier keys stay published for earlier checkpoints')
  .action(async () => {
    const config = loadConfig();
    const kid = await (await openKeyring(config.audit.keysDir, systemClock)).rotate();
    process.stdout.write(`${kid}\n`);
  });

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

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof FlaggateError) {
    process.stderr.write(`flaggate: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`flaggate: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(2);
});
