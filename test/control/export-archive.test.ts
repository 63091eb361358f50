import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { exportArchive, exportSender } from '../../src/control/export-archive.js';
import { httpStatus, type FlaggateError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

// Each package is written by workers reading the whole period: callers asking at once are bounded.
const gates: Array<() => void> = [];
const exportTo = async (dir: string) => {
  await new Promise<void>((resolve) => gates.push(resolve));
  const archive = join(dir, 'package.tar.gz');
  writeFileSync(archive, 'package');
  return archive;
};
let base: string;
let server: ReturnType<ReturnType<typeof express>['listen']>;
beforeAll(async () => {
  const app = express();
  app.get('/export', exportArchive(exportSender({ clock: fixedClock(0), logger: createLogger({ level: 'silent' }), audit: { exportTo } }, 2)));
  app.use(((err: FlaggateError, _req, res, _next) => void res.status(httpStatus[err.code]).json({ code: err.code })) as ErrorRequestHandler);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('export downloads', () => {
  it('writes at most two packages at once: a third caller gets 503 CONTROL_BUSY, and is served once one is done', async () => {
    const first = fetch(`${base}/export`);
    const second = fetch(`${base}/export`);
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    const third = await fetch(`${base}/export`);
    expect(third.status).toBe(503);
    expect(await third.json()).toEqual({ code: 'CONTROL_BUSY' });
    gates.shift()!();
    const done = await Promise.race([first, second]);
    expect(await done.text()).toBe('package');
    const fourth = fetch(`${base}/export`);
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    for (const open of gates.splice(0)) open();
    for (const res of await Promise.all([first, second, fourth])) expect(res.status).toBe(200);
  });
});
