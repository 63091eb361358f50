import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileDurably } from '../durable-file.js';
import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { TimestampError } from './errors.js';
import { buildCertificate, caExtensions, nameDer, tsaExtensions } from './cert-build.js';
import { extendedKeyUsage, readPemCerts, toPem } from './cert-info.js';
import type { CertInfo } from './cert-info.js';
import { OID } from './oids.js';
import { parseTimeStampReq, sha256Imprint } from './request.js';
import type { TimeStampReq } from './request.js';
import { buildTimeStampResp } from './response.js';
import type { FailInfo } from './response.js';
import { createTokenSigner } from './signer.js';
import { createTstInfoBuilder, type TstInfoFields } from './tst-info.js';

/** flaggate's own TSA policy: a UUID-based OID (X.667, arc 2.25), so no registration is needed. */
export const DEFAULT_TSA_POLICY = '2.25.62504771383336577966379114628321943361';

/** Operator-supplied signer: PKCS#8 key, TSA certificate first then its chain, and the trust anchor. */
export interface SuppliedTsaKey {
  keyPem: string;
  certChainPem: string;
  trustAnchorPem: string;
}

export interface EmbeddedTsa {
  /** Answers a DER `TimeStampReq` with a DER `TimeStampResp`; bad requests get a rejection, never a throw. */
  respond(tsq: Buffer): Promise<Buffer>;
  /** Issues a bare token (with certificates) over a SHA-256 digest, hex. */
  stamp(digestHex: string): Promise<Buffer>;
  /** `stamp`, synchronously (the signing is local): usable inside a SQLite transaction. */
  stampSync(digestHex: string): Buffer;
  /** The TSA certificate then its issuers, PEM (served at `GET /v1/tsa/certs`). */
  certificateChainPem(): string;
  /** The certificate verifiers should trust, PEM. */
  trustAnchorPem(): string;
  readonly policyOid: string;
}

/** A fresh TSA key, its certificate and the anchor that issued it, PEM. */
export interface TsaKeyMaterial {
  keyPem: string;
  /** The TSA certificate, then its CA. */
  chainPem: string;
  caPem: string;
}

/**
 * An EC P-256 key pair for a self-issued CA, used once to issue the TSA certificate and then
 * dropped (so the anchor can vouch for nothing else), and an EC P-256 TSA key (fast ECDSA signing
 * in node:crypto, small tokens).
 */
export function makeTsaKeyMaterial(now: Date): TsaKeyMaterial {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tsa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = nameDer('flaggate embedded TSA root', 'flaggate');
  const notBefore = new Date(now.getTime() - 60_000);
  const serial = () => BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n;
  const caCert = buildCertificate({
    subjectDer: caName, issuerDer: caName, serial: serial(), notBefore, notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
    publicKey: ca.publicKey, signingKey: ca.privateKey, extensions: caExtensions(ca.publicKey),
  });
  const tsaCert = buildCertificate({
    subjectDer: nameDer('flaggate embedded TSA', 'flaggate'), issuerDer: caName, serial: serial(), notBefore,
    notAfter: new Date(now.getTime() + 10 * 365 * 86_400_000), publicKey: tsa.publicKey, signingKey: ca.privateKey,
    extensions: tsaExtensions(tsa.publicKey, ca.publicKey),
  });
  return { keyPem: tsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, chainPem: toPem(tsaCert) + toPem(caCert), caPem: toPem(caCert) };
}

/**
 * Writes key material into `dir`: key (0600) first, the chain next, the anchors last. `keepChain`
 * and `keepAnchors` follow the new ones, so certificates of earlier keys stay for verification.
 */
export function writeTsaKeyMaterial(dir: string, m: TsaKeyMaterial, keep: { chainPem?: string; anchorsPem?: string } = {}): void {
  writeFileDurably(join(dir, 'tsa.key'), m.keyPem, 0o600);
  writeFileDurably(join(dir, 'tsa.crt'), m.chainPem + (keep.chainPem ?? ''), 0o644);
  writeFileDurably(join(dir, 'ca.crt'), m.caPem + (keep.anchorsPem ?? ''), 0o644);
  fsyncDir(dir);
}

/** First start: key material in `dir`; the CA certificate is written last and marks a complete set. */
function createKeyMaterial(dir: string, now: Date): void {
  writeTsaKeyMaterial(dir, makeTsaKeyMaterial(now));
}

function loadSigner(o: SuppliedTsaKey): { key: KeyObject; chain: CertInfo[]; anchorPem: string } {
  const chain = readPemCerts(o.certChainPem);
  const key = createPrivateKey(o.keyPem);
  const leaf = chain[0];
  const eku = leaf && extendedKeyUsage(leaf);
  if (!leaf || !eku?.critical || eku.purposes.join() !== OID.timeStamping) {
    throw new FlaggateError('CONFIG_INVALID', 'the TSA certificate must carry a critical extended key usage of exactly timeStamping');
  }
  if (!leaf.x509.checkPrivateKey(key)) throw new FlaggateError('CONFIG_INVALID', 'the TSA key does not match its certificate');
  return { key, chain, anchorPem: o.trustAnchorPem };
}

/** 127 random bits: unique across restarts without shared state. */
function nextSerial(): bigint {
  return BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n || 1n;
}

/** Creates the embedded TSA, making its key and certificates in `<dataDir>/tsa/` on first start. */
export function createEmbeddedTsa(o: { dataDir: string; clock: Clock; policyOid?: string; supplied?: SuppliedTsaKey; accuracy?: { seconds?: number; millis?: number } }): EmbeddedTsa {
  let supplied = o.supplied;
  if (!supplied) {
    const dir = join(o.dataDir, 'tsa');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(join(dir, 'ca.crt')) || !existsSync(join(dir, 'tsa.key'))) createKeyMaterial(dir, new Date(o.clock.now()));
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    supplied = { keyPem: read('tsa.key'), certChainPem: read('tsa.crt'), trustAnchorPem: read('ca.crt') };
  }
  const { key, chain, anchorPem } = loadSigner(supplied);
  const policyOid = o.policyOid ?? DEFAULT_TSA_POLICY;
  const accuracy = o.accuracy ?? { seconds: 1 };
  const signer = chain[0]!;

  // Encoded once per hash algorithm and per certReq: what every token of this TSA shares.
  const tstInfos = new Map<TimeStampReq['hashAlgorithm'], (f: TstInfoFields) => Buffer>();
  const tstInfoFor = (hash: TimeStampReq['hashAlgorithm']) => {
    let build = tstInfos.get(hash);
    if (!build) tstInfos.set(hash, (build = createTstInfoBuilder({ policy: policyOid, hashOid: hashOids[hash], accuracy, tsaNameDer: signer.subjectDer })));
    return build;
  };
  const withCertificate = createTokenSigner({ key, cert: signer, certificates: [signer.der] });
  const withoutCertificate = createTokenSigner({ key, cert: signer, certificates: [] });

  const issue = (req: TimeStampReq): Buffer => {
    const tstInfoDer = tstInfoFor(req.hashAlgorithm)({
      imprint: req.imprint, serial: nextSerial(), genTime: new Date(o.clock.now()), ...(req.nonce !== undefined ? { nonce: req.nonce } : {}),
    });
    return (req.certReq ? withCertificate : withoutCertificate)(tstInfoDer);
  };

  const refuse = (failInfo: FailInfo, text: string) => buildTimeStampResp({ status: 2, statusString: text, failInfo });

  return {
    policyOid,
    async respond(tsq) {
      let req: TimeStampReq;
      try {
        req = parseTimeStampReq(tsq);
      } catch (err) {
        if (err instanceof TimestampError && err.reason === 'TSA_ALGORITHM_UNSUPPORTED') return refuse('badAlg', 'unsupported hash algorithm');
        if (err instanceof TimestampError) return refuse('badDataFormat', err.message);
        return refuse('systemFailure', 'request could not be processed');
      }
      if (req.hashAlgorithm === 'sha1') return refuse('badAlg', 'SHA-1 imprints are not accepted');
      if (req.reqPolicy && req.reqPolicy !== policyOid) return refuse('unacceptedPolicy', `policy ${req.reqPolicy} is not offered`);
      if (req.extensionCount > 0) return refuse('unacceptedExtension', 'no request extensions are supported');
      return buildTimeStampResp({ status: 0, tokenDer: issue(req) });
    },
    async stamp(digestHex) {
      return issue({ version: 1, hashAlgorithm: 'sha256', imprint: sha256Imprint(digestHex), certReq: true, extensionCount: 0 });
    },
    stampSync(digestHex) {
      return issue({ version: 1, hashAlgorithm: 'sha256', imprint: sha256Imprint(digestHex), certReq: true, extensionCount: 0 });
    },
    certificateChainPem: () => chain.map((c) => toPem(c.der)).join(''),
    trustAnchorPem: () => anchorPem,
  };
}

const hashOids = { sha1: OID.sha1, sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 } as const;
