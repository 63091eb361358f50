/** Attestation reports' one door: the checks over a period, mapped to controls, signed and verified offline. */
export { buildAttestation, ATTESTATION_FORMAT, type AttestationReport, type AttestInput, type AttestVerification, type Finding, type ControlResult } from './report.js';
export { readControlMapping, defaultControlsPath, checkIds, type CheckId, type ControlMapping } from './controls.js';
export { writeAttestation, verifyAttestation, ATTESTATION_TYP, type AttestationVerifyReport } from './seal.js';
export { attestationHtml } from './html.js';
