/**
 * Bytes that do not parse, pipelined after a write still being answered: the write's own reply
 * comes first (the change was applied; the client must learn it), then the error for the bytes.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

let app: TestFlaggate;
beforeAll(async () => {
  app = await startTestFlaggate();
});
afterAll(() => app?.stop());

/** Writes `bytes` on one connection and returns everything read until the server closes it. */
function exchange(bytes: string): Promise<string> {
  const { hostname, port } = new URL(app.proxyUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(bytes, 'latin1'));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('a client error pipelined after a write', () => {
  it.each([
    { name: 'garbage', after: 'GARBAGE\r\n\r\n' },
    { name: 'a request with Content-Length and Transfer-Encoding', after: 'POST /flags HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  ])('answers the write first, then 400 for $name', async ({ after }) => {
    const token = await app.token('riley', 'release_engineer');
    const write = `POST /flags/checkout.new-flow/enable HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Flaggate-Reason: pipelined\r\nX-Flaggate-Ticket: CHG-1\r\nContent-Length: 0\r\n\r\n`;
    const text = await exchange(write + after);
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 400]);
    const decision = /x-flaggate-decision-id: ([0-9a-f-]+)/i.exec(text)?.[1];
    // The outcome is committed with the next group or within moments of the reply: wait a bounded while.
    const outcomeOf = () => (app.ledger.entriesAfter(0, 10_000) as unknown as Array<{ decision_id: string; entry_type: string; outcome: { status: string } | null }>)
      .find((e) => e.decision_id === decision && e.entry_type === 'change.outcome');
    for (let i = 0; i < 100 && !outcomeOf(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(outcomeOf()?.outcome?.status).toBe('applied');
  });
});
