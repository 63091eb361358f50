import type { AuditEntry, Ledger, NewEntry } from '../audit/index.js';
import { samePerson } from '../approvals/index.js';
import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { breakGlassReviewedEntry, type Reviewer } from './entries.js';

/** One granted break-glass change: its decision, its outcome once recorded, its review once done. */
export interface BreakGlassStatus {
  decision: AuditEntry;
  outcome: AuditEntry | null;
  review: AuditEntry | null;
  /** Past its review_due_at without a review. */
  overdue: boolean;
}

export interface BreakGlassReviewsDeps {
  ledger: Pick<Ledger, 'entriesAfter'>;
  /** Records an entry (the same path as every other entry: chain, checkpoint, replication). */
  append(entry: NewEntry): Promise<AuditEntry>;
  clock: Clock;
}

export interface BreakGlassReviews {
  /** Every granted break-glass change, newest first. */
  list(): BreakGlassStatus[];
  /** How many reviews are past due now (read by the metric on scrape). */
  overdue(): number;
  /**
   * Records the review of the change with this decision id: BREAK_GLASS_NOT_FOUND,
   * BREAK_GLASS_SELF_REVIEW (the requester cannot review their own), BREAK_GLASS_ALREADY_REVIEWED.
   */
  review(decisionId: string, by: Reviewer): Promise<AuditEntry>;
}

const PAGE = 1000;

interface Open {
  decision: AuditEntry;
  outcome: AuditEntry | null;
  review: AuditEntry | null;
}

/**
 * The break-glass changes and their reviews, read from the ledger: the ledger is the only record,
 * so a restart or a review made through another door is seen. Only entries after the last one read
 * are read again, so a scrape costs the new entries, not the whole ledger.
 */
export function createBreakGlassReviews(deps: BreakGlassReviewsDeps): BreakGlassReviews {
  const byDecision = new Map<string, Open>();
  let readTo = 0;

  const catchUp = () => {
    for (let page = deps.ledger.entriesAfter(readTo, PAGE); page.length > 0; page = deps.ledger.entriesAfter(readTo, PAGE)) {
      for (const e of page) take(byDecision, e);
      readTo = page.at(-1)!.seq;
    }
  };
  const isOverdue = (o: Open, nowMs: number) => o.review === null && o.decision.break_glass?.review_due_at != null && Date.parse(o.decision.break_glass.review_due_at) < nowMs;
  const statuses = (): BreakGlassStatus[] => {
    catchUp();
    const now = deps.clock.now();
    return [...byDecision.values()].reverse().map((o) => ({ ...o, overdue: isOverdue(o, now) }));
  };

  let reviewing: Promise<unknown> = Promise.resolve();
  return {
    list: statuses,
    overdue: () => statuses().filter((s) => s.overdue).length,
    review(decisionId, by) {
      // One at a time, so two reviews of one change cannot both pass the check.
      const next = reviewing.then(async () => {
        const status = statuses().find((s) => s.decision.decision_id === decisionId);
        if (!status) throw new FlaggateError('BREAK_GLASS_NOT_FOUND', `no break-glass change ${decisionId}`);
        if (samePerson(by.actor.id, status.decision.actor.id)) {
          throw new FlaggateError('BREAK_GLASS_SELF_REVIEW', 'the requester of a break-glass change cannot review it: a second person must');
        }
        if (status.review) throw new FlaggateError('BREAK_GLASS_ALREADY_REVIEWED', `break-glass change ${decisionId} was reviewed by ${status.review.actor.id} (entry ${status.review.seq})`);
        const entry = await deps.append(breakGlassReviewedEntry(status.decision, by, status.overdue));
        catchUp();
        return entry;
      });
      reviewing = next.catch(() => undefined);
      return next;
    },
  };
}

/** Files one entry: a granted break-glass decision opens a review; its outcome and its review attach to it. */
function take(byDecision: Map<string, Open>, e: AuditEntry): void {
  if (e.entry_type === 'change.decision' && e.break_glass?.granted === true && e.decision.allow) {
    byDecision.set(e.decision_id, { decision: e, outcome: null, review: null });
    return;
  }
  const open = byDecision.get(e.decision_id);
  if (!open) return;
  if (e.entry_type === 'change.outcome' && open.outcome === null) open.outcome = e;
  else if (e.entry_type === 'break_glass.reviewed' && e.break_glass?.reviews === e.decision_id && open.review === null) open.review = e;
}
