import type { AuditEntry, Ledger, NewEntry } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { checkDrift, flagsToWatch, type Baseline } from './check.js';
import { driftAcknowledgedEntry, driftDetectedEntry, type Acknowledger } from './entries.js';
import type { DriftProbe, PlatformEvent } from './probe.js';

export interface DriftWatcherDeps {
  probe: DriftProbe;
  ledger: Pick<Ledger, 'head' | 'entriesAfter' | 'getMeta' | 'setMeta'>;
  /** Records an entry (the same path as every other entry: chain, checkpoint, replication). */
  append(entry: NewEntry): Promise<AuditEntry>;
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'driftDetected' | 'errors'>;
  /** Seconds between checks; 0 checks only on demand. */
  intervalSeconds: number;
  /** Clock difference tolerated between flaggate and the platform's event times. */
  skewMs: number;
}

/** A `drift.detected` entry and its acknowledgement, if any. */
export interface DriftStatus {
  detected: AuditEntry;
  acknowledged: AuditEntry | null;
}

export interface DriftWatcher {
  /** Runs one check now (after any running one) and returns the `drift.detected` entries it recorded. */
  checkNow(): Promise<AuditEntry[]>;
  /** Takes the first baseline if there is none yet (records nothing); leaves an existing one for the next check. */
  takeBaseline(): Promise<void>;
  /** Every finding in the ledger, newest first, with its acknowledgement. */
  findings(): DriftStatus[];
  /** Records a `drift.acknowledged` entry; DRIFT_NOT_FOUND, DRIFT_ALREADY_ACKNOWLEDGED. */
  acknowledge(detectedEventId: string, by: Acknowledger): Promise<AuditEntry>;
  close(): Promise<void>;
}

const PAGE = 1000;

/** The ledger's entries after `seq`, read a page at a time as they are consumed: a large ledger is never held whole. */
function* entriesAfter(ledger: DriftWatcherDeps['ledger'], seq: number): Generator<AuditEntry> {
  for (let page = ledger.entriesAfter(seq, PAGE); page.length > 0; page = ledger.entriesAfter(page.at(-1)!.seq, PAGE)) yield* page;
}

function loadBaseline(deps: DriftWatcherDeps, metaKey: string): Baseline | undefined {
  const raw = deps.ledger.getMeta(metaKey);
  return raw === undefined ? undefined : (JSON.parse(raw) as Baseline);
}

/** Every drift finding, newest first, each with its acknowledgement if there is one. */
function listFindings(deps: DriftWatcherDeps): DriftStatus[] {
  const byId = new Map<string, DriftStatus>();
  for (const e of entriesAfter(deps.ledger, 0)) {
    if (e.entry_type === 'drift.detected') byId.set(e.event_id, { detected: e, acknowledged: null });
    else if (e.entry_type === 'drift.acknowledged' && e.drift?.acknowledges) {
      const status = byId.get(e.drift.acknowledges);
      if (status && !status.acknowledged) status.acknowledged = e;
    }
  }
  return [...byId.values()].reverse();
}

/** One comparison of the platform with the baseline; records each finding, then saves the new baseline. */
async function checkOnce(deps: DriftWatcherDeps, metaKey: string, known: { self?: string | undefined }): Promise<AuditEntry[]> {
  const baseline = loadBaseline(deps, metaKey);
  // The head first: reading it commits an outcome still waiting for a group, stamped before the check's time.
  const headSeq = deps.ledger.head().seq;
  const nowMs = deps.clock.now();
  const probe = deps.probe;
  if (probe.self && known.self === undefined) known.self = await probe.self();
  const self = known.self;
  const events: PlatformEvent[] = probe.events ? await probe.events(baseline?.eventCursor) : [];
  const pending = entriesAfter(deps.ledger, baseline?.seq ?? 0);
  const snapshot = await probe.snapshot(flagsToWatch(baseline, pending, events, probe.platform));
  // Read after the snapshot: every flaggate change the snapshot can show has its decision in here.
  const entries = entriesAfter(deps.ledger, baseline?.seq ?? 0);
  const result = checkDrift({ baseline, headSeq, entries, snapshot, events, self, platform: probe.platform, source: probe.source, nowMs, skewMs: deps.skewMs });
  const recorded: AuditEntry[] = [];
  for (const finding of result.findings) {
    const entry = await deps.append(driftDetectedEntry(finding, probe.platform));
    deps.metrics.driftDetected.inc({ platform: probe.platform, source: finding.source });
    deps.logger.warn('drift detected', { event_id: entry.event_id, flag_key: entry.flag_key, source: finding.source, platform_event_id: finding.eventId, platform_actor: finding.actor });
    recorded.push(entry);
  }
  // Saved only once every finding is recorded: a crash in between finds them again rather than never.
  deps.ledger.setMeta(metaKey, JSON.stringify(result.baseline));
  return recorded;
}

/**
 * Watches one platform for changes that did not go through flaggate: on an interval and on demand,
 * it reads the platform (never writes to it), compares with what it saw last, and records each
 * difference no flaggate change explains as a `drift.detected` entry. What it saw last is kept in
 * the ledger file's metadata, so changes made while flaggate was stopped are found at the next start.
 */
export function createDriftWatcher(deps: DriftWatcherDeps): DriftWatcher {
  const metaKey = `drift.baseline.${deps.probe.platform}`;
  let running: Promise<AuditEntry[]> = Promise.resolve([]);
  const known: { self?: string | undefined } = {};
  let closed = false;
  // Series start at 0, so the first finding is an increase an alert rule can see.
  for (const source of deps.probe.events ? [deps.probe.source, 'event_log'] : [deps.probe.source]) deps.metrics.driftDetected.inc({ platform: deps.probe.platform, source }, 0);
  const check = () => checkOnce(deps, metaKey, known);

  const checkNow = (): Promise<AuditEntry[]> => {
    const next = running.then(check, check);
    running = next.catch(() => []);
    return next;
  };

  const timer =
    deps.intervalSeconds > 0
      ? setInterval(() => {
          if (closed) return;
          checkNow().catch((err: unknown) => {
            const code = err instanceof FlaggateError ? err.code : 'INTERNAL';
            deps.metrics.errors.inc({ code });
            deps.logger.error('drift check failed', { platform: deps.probe.platform, code, error: String(err) });
          });
        }, deps.intervalSeconds * 1000)
      : undefined;
  timer?.unref();

  const findings = (): DriftStatus[] => listFindings(deps);

  let acknowledging: Promise<unknown> = Promise.resolve();
  return {
    checkNow,
    async takeBaseline() {
      if (loadBaseline(deps, metaKey) === undefined) await checkNow();
    },
    findings,
    acknowledge(detectedEventId, by) {
      // One at a time, so two acknowledgements of one finding cannot both pass the check.
      const next = acknowledging.then(async () => {
        const status = findings().find((s) => s.detected.event_id === detectedEventId);
        if (!status) throw new FlaggateError('DRIFT_NOT_FOUND', `no drift finding ${detectedEventId}`);
        if (status.acknowledged) throw new FlaggateError('DRIFT_ALREADY_ACKNOWLEDGED', `drift finding ${detectedEventId} was acknowledged by ${status.acknowledged.actor.id} (entry ${status.acknowledged.seq})`);
        return deps.append(driftAcknowledgedEntry(status.detected, by));
      });
      acknowledging = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
