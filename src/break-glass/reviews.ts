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
   * BREAK_GLASS_SELF_REVIEW (the requester cannot review their own), BREAK_GLASS_REVIEWER_NOT_A_PERSON
   * (a service account cannot review), BREAK_GLASS_ALREADY_REVIEWED.
   */
  review(decisionId: string, by: Reviewer): Promise<AuditEntry>;
  /** Stops reading the ledger in the background (before it closes). */
  close(): void;
}

/** How a caller authenticated when no person stands behind it (as approvals count them; one that does not say counts as none). */
const NOT_A_PERSON = new Set(['client-credentials', 'none']);

const PAGE = 1000;
/** Pages a scrape reads at most: the gauge may lag a long ledger's first read, never stall the event loop. */
const SCRAPE_PAGES = 2;

interface Open {
  decision: AuditEntry;
  outcome: AuditEntry | null;
  review: AuditEntry | null;
}

/**
 * The break-glass changes and their reviews, read from the ledger: the ledger is the only record,
 * so a restart or a review made through another door is seen. Only entries after the last one read
 * are read again; an existing ledger is read in the background a page per turn of the event loop.
 */
export function createBreakGlassReviews(deps: BreakGlassReviewsDeps): BreakGlassReviews {
  const byDecision = new Map<string, Open>();
  let readTo = 0;
  let closed = false;

  /** Reads up to `pages` pages after the last entry read; true when it reached the head. */
  const catchUp = (pages = Infinity): boolean => {
    for (let n = 0; n < pages; n++) {
      const page = deps.ledger.entriesAfter(readTo, PAGE);
      if (page.length === 0) return true;
      for (const e of page) take(byDecision, e);
      readTo = page.at(-1)!.seq;
    }
    return false;
  };
  const background = () => {
    try {
      if (!closed && !catchUp(1)) setImmediate(background).unref();
    } catch {
      // The ledger went away under it (closed in a test, a failed start): the next read on demand retries.
    }
  };
  setImmediate(background).unref();
  const isOverdue = (o: Open, nowMs: number) => o.review === null && o.decision.break_glass?.review_due_at != null && Date.parse(o.decision.break_glass.review_due_at) < nowMs;
  const statuses = (pages?: number): BreakGlassStatus[] => {
    catchUp(pages);
    const now = deps.clock.now();
    return [...byDecision.values()].reverse().map((o) => ({ ...o, overdue: isOverdue(o, now) }));
  };

  let reviewing: Promise<unknown> = Promise.resolve();
  return {
    list: () => statuses(),
    overdue: () => statuses(SCRAPE_PAGES).filter((s) => s.overdue).length,
    review(decisionId, by) {
      // One at a time, so two reviews of one change cannot both pass the check.
      const next = reviewing.then(async () => {
        const status = statuses().find((s) => s.decision.decision_id === decisionId);
        if (!status) throw new FlaggateError('BREAK_GLASS_NOT_FOUND', `no break-glass change ${decisionId}`);
        if (typeof by.actor.auth_method !== 'string' || NOT_A_PERSON.has(by.actor.auth_method)) {
          throw new FlaggateError('BREAK_GLASS_REVIEWER_NOT_A_PERSON', `a ${by.actor.auth_method} caller cannot review a break-glass change: a second person must`);
        }
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
    close() {
      closed = true;
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
