/**
 * Times `decide()` in a process of its own, started with flaggate's launcher flags by the bench, so
 * the policy's WASM runs on the tier flaggate gives it. argv[2]: the number of decisions. Prints
 * one JSON line ({ p50, p99, n }, ms) and exits.
 */
import { join } from 'node:path';
import { createPolicyEngine } from '../src/policy/index.js';
import { timeDecisions } from './decide.js';

const engine = await createPolicyEngine({ bundlePath: join(import.meta.dirname, '../bundles/flaggate.tar.gz') });
process.stdout.write(`${JSON.stringify(timeDecisions(engine, Number(process.argv[2] ?? 20_000)))}\n`);
