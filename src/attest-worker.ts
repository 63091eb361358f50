import { parentPort, workerData } from 'node:worker_threads';
import { readAttestation, type AttestRequest } from './attest-ledger.js';
import { systemClock } from './clock.js';

export type WorkerRequest = Omit<AttestRequest, 'out' | 'keyring' | 'keyringDir' | 'clock'> & { generatedAt?: string };

/**
 * An attestation's heavy part (scheduled, or for an export package), off the sidecar's event loop: reading and verifying the
 * ledger file and running the checks. Replies with the unsigned report; the sidecar signs it.
 */
const { generatedAt, ...request } = workerData as WorkerRequest;
// A package's report is dated as the package is; a scheduled one when it is made.
const clock = generatedAt ? { now: () => Date.parse(generatedAt), monotonic: () => systemClock.monotonic() } : systemClock;
readAttestation({ ...request, clock }).then(
  (report) => parentPort!.postMessage({ report }),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
