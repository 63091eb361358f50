import { parentPort, workerData } from 'node:worker_threads';
import { readAttestation, type AttestRequest } from './attest-ledger.js';
import { systemClock } from './clock.js';

/**
 * A scheduled attestation's heavy part, off the sidecar's event loop: reading and verifying the
 * ledger file and running the checks. Replies with the unsigned report; the sidecar signs it.
 */
const request = workerData as Omit<AttestRequest, 'out' | 'keyring' | 'keyringDir' | 'clock'>;
readAttestation({ ...request, clock: systemClock }).then(
  (report) => parentPort!.postMessage({ report }),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
