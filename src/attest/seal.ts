import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { canonicalJson, namesAKeyTwice, signJson, verifyJson, type Keyring } from '../audit/index.js';
import { attestationHtml } from './html.js';
import { ATTESTATION_FORMAT, type AttestationReport } from './report.js';

/** The JWS type of `attestation.jws`. */
export const ATTESTATION_TYP = 'flaggate-attestation+jws';
const REPORT = 'attestation.json';
const PAGE = 'attestation.html';
const SEAL = 'attestation.jws';
const KEYS = 'keys.jwks.json';

/** What `attestation.jws` signs: the report's scope and the SHA-256 of both files. */
interface SealClaims {
  format: typeof ATTESTATION_FORMAT;
  chain_id: string | null;
  period: AttestationReport['period'];
  generated_at: string;
  result: AttestationReport['summary']['result'];
  files: Record<string, string>;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes the attestation into `dir`: attestation.json (the report), attestation.html (the page),
 * attestation.jws (both files' digests and the report's scope, signed with the checkpoint key: EdDSA,
 * RFC 8785 payload) and keys.jwks.json (the public keys, for convenience: a verifier pins its own).
 */
export async function writeAttestation(dir: string, report: AttestationReport, keyring: Keyring): Promise<{ files: Record<string, string>; kid: string }> {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(report, null, 2) + '\n';
  const html = attestationHtml(report);
  const files = { [REPORT]: sha256(json), [PAGE]: sha256(html) };
  const claims: SealClaims = { format: ATTESTATION_FORMAT, chain_id: report.source.chain_id, period: report.period, generated_at: report.generated_at, result: report.summary.result, files };
  const { jws, kid } = await signJson(claims, ATTESTATION_TYP, keyring);
  writeFileSync(join(dir, REPORT), json);
  writeFileSync(join(dir, PAGE), html);
  writeFileSync(join(dir, KEYS), JSON.stringify(keyring.jwks(), null, 2) + '\n');
  writeFileSync(join(dir, SEAL), jws + '\n');
  return { files, kid };
}

export interface AttestationVerifyReport {
  ok: boolean;
  kid: string | null;
  chainId: string | null;
  period: AttestationReport['period'] | null;
  result: string | null;
  findings: number | null;
  failure?: { file: string; message: string };
}

/**
 * Verifies an attestation offline: the seal's signature against `keys` (pinned by the verifier;
 * else the folder's own copy, which proves only that the files agree with each other), then that
 * both files are exactly the signed digests and the report names the signed scope.
 */
export async function verifyAttestation(dir: string, keys?: JSONWebKeySet): Promise<AttestationVerifyReport> {
  const out: AttestationVerifyReport = { ok: false, kid: null, chainId: null, period: null, result: null, findings: null };
  const fail = (file: string, message: string): AttestationVerifyReport => ({ ...out, ok: false, failure: { file, message } });
  for (const f of [SEAL, REPORT, PAGE]) if (!existsSync(join(dir, f))) return fail(f, `${f} is missing`);
  let trusted = keys;
  try {
    trusted ??= JSON.parse(readFileSync(join(dir, KEYS), 'utf8')) as JSONWebKeySet;
  } catch (err) {
    return fail(KEYS, `no keys to verify with: ${(err as Error).message}`);
  }
  const signed = await verifyJson(readFileSync(join(dir, SEAL), 'utf8').trim(), ATTESTATION_TYP, trusted);
  if (!signed.ok) return fail(SEAL, `${signed.problem}: ${signed.message}`);
  const claims = signed.value as SealClaims;
  out.kid = signed.kid;
  if (claims.format !== ATTESTATION_FORMAT || typeof claims.files !== 'object' || claims.files === null) return fail(SEAL, `not a ${ATTESTATION_FORMAT} seal`);
  for (const f of [REPORT, PAGE]) {
    if (sha256(readFileSync(join(dir, f))) !== claims.files[f]) return fail(f, `${f} differs from the signed digest`);
  }
  let report: AttestationReport;
  const reportText = readFileSync(join(dir, REPORT), 'utf8');
  try {
    report = JSON.parse(reportText) as AttestationReport;
  } catch (err) {
    return fail(REPORT, `not JSON: ${(err as Error).message}`);
  }
  // Signed bytes that read one way here and another to a reader keeping a key's first value.
  if (namesAKeyTwice(reportText)) return fail(REPORT, `${REPORT} names a key twice`);
  const scope = { chain_id: report.source?.chain_id ?? null, period: report.period, generated_at: report.generated_at, result: report.summary?.result };
  if (canonicalJson(scope) !== canonicalJson({ chain_id: claims.chain_id, period: claims.period, generated_at: claims.generated_at, result: claims.result })) {
    return fail(REPORT, 'the report names another scope than the signed one');
  }
  return { ok: true, kid: signed.kid, chainId: claims.chain_id, period: claims.period, result: claims.result, findings: report.findings.length };
}
