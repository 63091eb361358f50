/**
 * RFC 3161 tokens on their own (issue 4): tokens per second from the embedded TSA, one at a time
 * and with many requests in flight, beside `openssl ts -reply` (one openssl process per token, an
 * EC P-256 signer like the embedded TSA's) as the peer. Runs in this process; temp dirs removed.
 */
import { createHash } from 'node:crypto';
import { systemClock } from '../src/clock.js';
import { buildTimeStampReq, createEmbeddedTsa, parseTimeStampResp } from '../src/timestamp/index.js';
import { makeOpensslPki, startOpensslTsa } from '../test/support/openssl-tsa.js';
import { makeTempDir } from '../test/support/temp-dir.js';

/** One run of token issuance. */
export interface TokenRun {
  label: string;
  inFlight: number;
  tokens: number;
  seconds: number;
  /** Mean DER size of a token (a TimeStampResp for openssl), bytes. */
  bytes: number;
}

const digestOf = (i: number): string => createHash('sha256').update(`bench entry ${i}`).digest('hex');

async function timedTokens(label: string, n: number, inFlight: number, issue: (i: number) => Promise<Buffer>): Promise<TokenRun> {
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < n; i = next++) {
        const token = await issue(i);
        bytes += token.length;
      }
    }),
  );
  return { label, inFlight, tokens: n, seconds: (performance.now() - t0) / 1000, bytes: bytes / n };
}

/** Embedded TSA `stamp()` sequentially and with `inFlight` concurrent calls; `openssl ts -reply` sequentially. */
export async function measureTokens(o: { n: number; opensslN: number; inFlight: number; log: (msg: string) => void }): Promise<TokenRun[]> {
  const tmp = makeTempDir('flaggate-bench-tsa-');
  const runs: TokenRun[] = [];
  try {
    const tsa = createEmbeddedTsa({ dataDir: tmp.dir, clock: systemClock });
    for (let i = 0; i < 1000; i++) await tsa.stamp(digestOf(-i));
    o.log(`timestamps: embedded TSA, ${o.n} tokens one at a time`);
    runs.push(await timedTokens('embedded TSA `stamp()`', o.n, 1, (i) => tsa.stamp(digestOf(i))));
    o.log(`timestamps: embedded TSA, ${o.n} tokens, ${o.inFlight} in flight`);
    runs.push(await timedTokens('embedded TSA `stamp()`', o.n, o.inFlight, (i) => tsa.stamp(digestOf(i))));
    o.log(`timestamps: embedded TSA over DER requests (\`respond()\`), ${o.n} tokens one at a time`);
    runs.push(await timedTokens('embedded TSA `respond(TimeStampReq)` (parse query, issue, wrap reply)', o.n, 1, (i) => tsa.respond(buildTimeStampReq({ digest: digestOf(i) }).der)));

    o.log(`timestamps: openssl ts -reply, ${o.opensslN} tokens one at a time`);
    const pki = await makeOpensslPki(tmp.dir);
    const openssl = await startOpensslTsa(pki, { name: 'bench', keyType: 'ec' });
    try {
      const reply = async (i: number): Promise<Buffer> => {
        const resp = await openssl.reply(buildTimeStampReq({ digest: digestOf(i) }).der);
        if (parseTimeStampResp(resp).status.status !== 0) throw new Error('openssl ts -reply refused the request');
        return resp;
      };
      await reply(-1);
      // The helper's serial file is shared by every openssl process, so its requests go one at a time.
      runs.push(await timedTokens('`openssl ts -reply` (one process per token, EC P-256)', o.opensslN, 1, reply));
    } finally {
      await openssl.close();
    }
    return runs;
  } finally {
    tmp.cleanup();
  }
}
