/**
 * A throw-away versitygw (an S3 server with versioning and Object Lock) on a free loopback port,
 * storing in a temp dir, with a root access key the test knows: the binary
 * scripts/install-versitygw.sh put in .tools/bin. Killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './postgres.js';

const binary = join(import.meta.dirname, '..', '..', '.tools', 'bin', 'versitygw');

export interface VersityGw {
  readonly endpoint: string;
  /** The root account: the most privileged credentials the server has. */
  readonly root: { accessKeyId: string; secretAccessKey: string };
  /** An S3 client holding the root credentials. */
  client(): S3Client;
  createBucket(name: string, options: { objectLock: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`versitygw did not listen within 20 s:\n${log()}`);
}

export async function startVersityGw(): Promise<VersityGw> {
  if (!existsSync(binary)) throw new Error(`versitygw not installed at ${binary}; run scripts/setup-test-env.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-versitygw-'));
  mkdirSync(join(dir, 'root'));
  mkdirSync(join(dir, 'versions'));
  const port = await freePort();
  const root = { accessKeyId: 'flaggate-root', secretAccessKey: 'flaggate-root-secret' };
  const args = ['--port', `127.0.0.1:${port}`, '--access', root.accessKeyId, '--secret', root.secretAccessKey, '--quiet', 'posix', '--versioning-dir', join(dir, 'versions'), join(dir, 'root')];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-5000)));
  child.stderr.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-5000)));
  live.add(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  const stop = async () => {
    for (const c of clients) c.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  const client = () => {
    const c = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: root });
    clients.push(c);
    return c;
  };
  return {
    endpoint,
    root,
    client,
    async createBucket(name, options) {
      await client().send(new CreateBucketCommand({ Bucket: name, ...(options.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
    },
    stop,
  };
}
