/**
 * The contract between the differential runner and one platform. The runner sends generated request
 * variants through flaggate and reads the ledger; the platform plug-in knows its routes, how to put
 * the platform in the state a variant needs, how to read what the platform really did, and how to
 * compare that with what the ledger says was applied.
 */
import type fc from 'fast-check';
import type { AuditEntry } from '../../../src/audit/entry.js';
import type { RawHttpRequest } from '../raw-http.js';

/** The decision entry of one variant and, when it was forwarded, its outcome entry. */
export interface LedgerView {
  decision: AuditEntry;
  outcome?: AuditEntry;
}

/** What the platform did that the runner could attribute: to a slot, or to nobody (`stray`). */
export interface Observation<Fact> {
  bySlot: Map<number, Fact[]>;
  stray: Fact[];
}

/**
 * One platform under differential test. Slots are independent lanes: in a batch, each variant owns
 * one slot, and a slot owns the platform objects (flags) its variants touch, so every effect the
 * platform reports can be traced to exactly one variant.
 */
export interface DifferentialPlatform<Spec, Fact> {
  readonly name: string;
  /** Generated variants; `describe` names the tricks a variant carries, for reports. */
  readonly variants: fc.Arbitrary<Spec>;
  /** A short label to count variants by (usually the route). */
  routeOf(spec: Spec): string;
  describe(spec: Spec): string;
  /** Puts `slot` in the state the variant needs, directly on the platform, and returns the request to send. */
  prepare(spec: Spec, slot: number): Promise<RawHttpRequest>;
  /** Everything the platform did since the previous call, read from the platform itself. */
  observe(): Promise<Observation<Fact>>;
  /**
   * The differences between what the ledger says was applied and what the platform did for this
   * slot (its reported facts, and its state read now); empty when they agree. Called only for
   * variants whose outcome is `applied`, before the slot's next variant.
   */
  compare(ledger: LedgerView, facts: readonly Fact[]): Promise<string[]>;
  /** Short text for a fact in a report. */
  showFact(fact: Fact): string;
}
