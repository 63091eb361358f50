import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { assertStrictDer, derGeneralizedTime, derInteger, generalizedTime, int, tlv, toDer } from '../../src/timestamp/der.js';
import { createEmbeddedTsa, verifyTimestampToken } from '../../src/timestamp/index.js';
import { readPemCerts } from '../../src/timestamp/cert-info.js';
import { OID } from '../../src/timestamp/oids.js';
import { createTokenSigner } from '../../src/timestamp/signer.js';
import { createTstInfoBuilder } from '../../src/timestamp/tst-info.js';
import { makeTempDir } from '../support/temp-dir.js';

const { asn1 } = forge;

// Lengths either side of each boundary of the length's encoding (1, 2 and 3 bytes after 0x8x).
const lengths = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(127, 128, 255, 256, 65535, 65536), fc.integer({ min: 65530, max: 70000 }));

describe('DER written into buffers', () => {
  // No INTEGER (0x02) here: forge drops a redundant leading 0x00 or 0xff from an INTEGER's content, so
  // random content would differ whenever it starts like that; INTEGERs are held equal below, minimal.
  it('a primitive element equals forge encoding the same tag and content', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x04, 0x0c, 0x13, 0x16, 0x18, 0x80, 0x81), lengths, (tag, length) => {
        const content = randomBytes(length);
        const node = asn1.create(tag & 0xc0, tag & 0x1f, false, content.toString('binary'));
        expect(tlv(tag, [content]).equals(toDer(node))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a constructed element equals forge around the same children, however the content is split', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x30, 0x31, 0xa0, 0xa4), fc.array(lengths, { maxLength: 4 }), (tag, childLengths) => {
        const children = childLengths.map((n) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, randomBytes(n).toString('binary')));
        const node = asn1.create(tag & 0xc0, tag & 0x1f, true, children);
        expect(tlv(tag, children.map(toDer)).equals(toDer(node))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('INTEGERs and GeneralizedTimes equal forge', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 200n }), fc.date({ min: new Date(0), max: new Date(253402300799000), noInvalidDate: true }), (v, d) => {
        expect(derInteger(v).equals(toDer(int(v)))).toBe(true);
        expect(derGeneralizedTime(d).equals(toDer(generalizedTime(d)))).toBe(true);
      }),
      { numRuns: 500 },
    );
    for (const v of [0n, 127n, 128n, 255n, 256n, 2n ** 127n - 1n]) expect(derInteger(v).equals(toDer(int(v)))).toBe(true);
    expect(() => derInteger(-1n)).toThrow(TypeError);
  });
});

describe('createTokenSigner', () => {
  it('signs each TSTInfo it is given: every token verifies and carries its own imprint, serial and time', () => {
    const tmp = makeTempDir('flaggate-der-write-');
    try {
      const tsa = createEmbeddedTsa({ dataDir: tmp.dir, clock: systemClock });
      const [leaf, ca] = readPemCerts(tsa.certificateChainPem());
      const key = createPrivateKey(readFileSync(join(tmp.dir, 'tsa', 'tsa.key'), 'utf8'));
      const build = createTstInfoBuilder({ policy: '1.2.3.4.1', hashOid: OID.sha256, accuracy: { seconds: 1 }, tsaNameDer: leaf!.subjectDer });
      const sign = createTokenSigner({ key, cert: leaf!, certificates: [leaf!.der, ca!.der] });
      for (let i = 0; i < 5; i++) {
        const digest = randomBytes(32);
        const genTime = new Date(Date.now() + i * 1010);
        const token = sign(build({ imprint: digest, serial: BigInt(1000 + i), genTime, nonce: BigInt(i) }));
        assertStrictDer(token, 'token');
        const v = verifyTimestampToken(token, { trustAnchorsPem: tsa.trustAnchorPem(), digest, nonce: BigInt(i) });
        expect(v.tstInfo).toMatchObject({ serialNumber: String(1000 + i), genTime: genTime.toISOString(), policy: '1.2.3.4.1' });
        expect(v.chain).toHaveLength(2);
      }
    } finally {
      tmp.cleanup();
    }
  });
});
