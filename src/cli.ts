#!/usr/bin/env node
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { openLedgerReader, verifyChain } from './audit/index.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config/index.js';
import { FlaggateError } from './errors.js';
import { mintDevToken } from './identify/index.js';
import { startFlaggate } from './main.js';
import { walkthroughText } from './walkthrough.js';

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
  .description('verify a ledger file: recompute every hash; exit 1 on any failure')
  .requiredOption('--db <path>', 'the SQLite ledger file')
  .action(async (opts: { db: string }) => {
    const reader = openLedgerReader(resolve(opts.db));
    try {
      const report = await verifyChain(reader.read, reader.chainId ? { chainId: reader.chainId } : {});
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      process.exitCode = report.ok ? 0 : 1;
    } finally {
      reader.close();
    }
  });

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
