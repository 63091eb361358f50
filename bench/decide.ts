import type { PolicyEngine } from '../src/policy/index.js';
import { policyInputs } from './inputs.js';
import { percentile } from './load.js';

/** p50 and p99 of `n` decisions over the bench's inputs, after 1,000 to warm up. */
export function timeDecisions(engine: PolicyEngine, n: number): { p50: number; p99: number; n: number } {
  for (let i = 0; i < 1000; i++) engine.decide(policyInputs[i % policyInputs.length]!.input);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = policyInputs[i % policyInputs.length]!.input;
    const t0 = performance.now();
    engine.decide(input);
    samples.push(performance.now() - t0);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), n };
}
