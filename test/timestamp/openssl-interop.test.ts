import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from '../../src/clock.js';
import { buildTimeStampReq, createEmbeddedTsa, createTsaClient, requestToken, verifyTimestampToken, verifyTokenFile } from '../../src/timestamp/index.js';
import type { EmbeddedTsa } from '../../src/timestamp/index.js';
import { makeOpensslPki, openssl, startOpensslTsa } from '../support/openssl-tsa.js';
import type { OpensslPki, OpensslTsa } from '../support/openssl-tsa.js';
import { makeTempDir } from '../support/temp-dir.js';

const digest = 'a1'.repeat(32);
const tmp = makeTempDir('flaggate-tsa-interop-');
let tsa: EmbeddedTsa;
let pki: OpensslPki;
const peers: Record<string, OpensslTsa> = {};

beforeAll(async () => {
  tsa = createEmbeddedTsa({ dataDir: join(tmp.dir, 'data'), clock: systemClock });
  writeFileSync(join(tmp.dir, 'ca.pem'), tsa.trustAnchorPem());
  writeFileSync(join(tmp.dir, 'chain.pem'), tsa.certificateChainPem());
  mkdirSync(join(tmp.dir, 'pki'));
  pki = await makeOpensslPki(join(tmp.dir, 'pki'));
  peers.rsa = await startOpensslTsa(pki, { name: 'rsa', keyType: 'rsa', essAlg: 'sha1' });
  peers.ec = await startOpensslTsa(pki, { name: 'ec', keyType: 'ec', essAlg: 'sha256' });
});

afterAll(async () => {
  await Promise.all(Object.values(peers).map((p) => p.close()));
  tmp.cleanup();
});

describe('createEmbeddedTsa', () => {
  it('issues replies that pass openssl ts -verify with -digest', async () => {
    const { der } = buildTimeStampReq({ digest });
    writeFileSync(join(tmp.dir, 'e1.tsr'), await tsa.respond(der));
    const out = await openssl(['ts', '-verify', '-digest', digest, '-in', 'e1.tsr', '-CAfile', 'ca.pem', '-untrusted', 'chain.pem'], tmp.dir);
    expect(out).toContain('Verification: OK');
  });

  it('issues replies that pass openssl ts -verify with -queryfile (nonce, imprint, policy)', async () => {
    const { der } = buildTimeStampReq({ digest, reqPolicy: tsa.policyOid });
    writeFileSync(join(tmp.dir, 'e2.tsq'), der);
    writeFileSync(join(tmp.dir, 'e2.tsr'), await tsa.respond(der));
    const out = await openssl(['ts', '-verify', '-queryfile', 'e2.tsq', '-in', 'e2.tsr', '-CAfile', 'ca.pem', '-untrusted', 'chain.pem'], tmp.dir);
    expect(out).toContain('Verification: OK');
  });

  it('answers queries made by openssl ts -query', async () => {
    await openssl(['ts', '-query', '-digest', digest, '-sha256', '-cert', '-out', 'o.tsq'], tmp.dir);
    writeFileSync(join(tmp.dir, 'o.tsr'), await tsa.respond(readFileSync(join(tmp.dir, 'o.tsq'))));
    const out = await openssl(['ts', '-verify', '-queryfile', 'o.tsq', '-in', 'o.tsr', '-CAfile', 'ca.pem'], tmp.dir);
    expect(out).toContain('Verification: OK');
  });

  it('keeps its key and certificates across restarts, with the key file mode 0600', async () => {
    const again = createEmbeddedTsa({ dataDir: join(tmp.dir, 'data'), clock: fixedClock(Date.now()) });
    expect(again.certificateChainPem()).toBe(tsa.certificateChainPem());
    expect(statSync(join(tmp.dir, 'data', 'tsa', 'tsa.key')).mode & 0o777).toBe(0o600);
  });

  it('never repeats a serial number', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const v = verifyTimestampToken(await tsa.stamp(digest), { trustAnchorsPem: tsa.trustAnchorPem(), digest });
      serials.add(v.tstInfo.serialNumber);
    }
    expect(serials.size).toBe(20);
  });
});

describe('verifyTimestampToken', () => {
  it.each(['rsa', 'ec'])('accepts a %s token from openssl ts -reply', async (name) => {
    const peer = peers[name]!;
    const { der, nonce } = buildTimeStampReq({ digest });
    const v = verifyTimestampToken(await peer.reply(der), { trustAnchorsPem: peer.caPem, digest, nonce, policyAllowlist: [peer.policy] });
    expect(v.tstInfo).toMatchObject({ policy: '1.2.3.4.1', imprint: digest, nonce: nonce.toString(), ordering: false, accuracy: { seconds: 1, millis: 500 } });
    expect(v.signerCert.subject).toContain(`CN=${name}`);
  });
});

describe('createTsaClient', () => {
  it.each(['rsa', 'ec'])('gets a verified %s token from openssl ts -reply over HTTP', async (name) => {
    const peer = peers[name]!;
    const client = createTsaClient({ urls: [{ url: peer.url }], timeoutMs: 10_000, trustAnchorsPem: peer.caPem, clock: systemClock });
    const got = await client.stamp(digest);
    expect(got.tsa).toBe(peer.url);
    expect(verifyTimestampToken(got.token, { trustAnchorsPem: peer.caPem, digest }).tstInfo.imprint).toBe(digest);
  });

  it('fails over to the next TSA when the first is down or untrusted', async () => {
    const client = createTsaClient({
      urls: [{ url: 'http://127.0.0.1:9/tsa' }, { url: peers.rsa!.url }, { url: peers.ec!.url }],
      timeoutMs: 5_000, trustAnchorsPem: peers.ec!.caPem, policyAllowlist: ['1.2.3.4.1'], clock: systemClock,
    });
    await expect(client.stamp(digest)).resolves.toMatchObject({ tsa: peers.rsa!.url });
  });

  it('rejects with TIMESTAMP_UNAVAILABLE and a reason per URL when no TSA gives a valid token', async () => {
    const client = createTsaClient({
      urls: [{ url: 'http://127.0.0.1:9/tsa' }, { url: peers.ec!.url }],
      timeoutMs: 5_000, trustAnchorsPem: tsa.trustAnchorPem(), clock: systemClock,
    });
    await expect(client.stamp(digest)).rejects.toMatchObject({
      code: 'TIMESTAMP_UNAVAILABLE',
      details: { attempts: [{ code: 'UNREACHABLE' }, { url: peers.ec!.url, code: 'TSA_CHAIN_UNTRUSTED' }] },
    });
  });
});

describe('requestToken', () => {
  it('writes a reply from openssl ts -reply that verifyTokenFile accepts', async () => {
    const outPath = join(tmp.dir, 'requested.tsr');
    await expect(requestToken({ url: peers.ec!.url, digestHex: digest, outPath })).resolves.toMatchObject({ tstInfo: { imprint: digest } });
    expect(verifyTokenFile({ tokenPath: outPath, digestHex: digest, trustPem: peers.ec!.caPem })).toMatchObject({ ok: true });
  });

  it('rejects with TIMESTAMP_UNAVAILABLE when the TSA does not answer', async () => {
    await expect(requestToken({ url: 'http://127.0.0.1:9/tsa', digestHex: digest, outPath: join(tmp.dir, 'none.tsr') })).rejects.toMatchObject({ code: 'TIMESTAMP_UNAVAILABLE' });
  });
});
