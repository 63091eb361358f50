import type express from 'express';
import type { Request } from 'express';
import { OUTCOME_FILTERS, verifyCheckpoint, type EntryPage, type EntrySearch } from '../audit/index.js';
import { isoUtc } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { checkForm } from './guard.js';
import { entryBody, isReadable, logBody, timelineBody, type LogFilters, type LocalVerifyReport, type LogRow } from './audit-pages.js';
import type { ConsoleContext } from './console-app.js';

const PAGE = 50;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_TEXT = 256;

/** Entries a page at a time, as the control port finds them; newest first. */
export interface ConsoleAuditSearch {
  search(filters: EntrySearch, page: EntryPage): Promise<{ entries: LogRow[]; olderExist: boolean; newerExist: boolean }>;
}

/**
 * The last verification and when it ran. A full check reads the whole chain, so a page view reuses
 * one younger than `maxAgeMs` (and joins one under way); "Check again" runs a new one.
 */
export function createVerificationCache(verify: () => Promise<LocalVerifyReport>, now: () => number, maxAgeMs = 60_000) {
  let last: { report: LocalVerifyReport; checkedAt: string; at: number } | undefined;
  let running: Promise<NonNullable<typeof last>> | undefined;
  const run = () =>
    (running ??= verify()
      .then((report) => (last = { report, checkedAt: isoUtc(now()), at: now() }))
      .finally(() => (running = undefined)));
  return {
    latest: async () => (last && now() - last.at < maxAgeMs ? last : run()),
    fresh: () => run(),
  };
}

/** The log, one entry, a flag's timeline, a new verification and the export download. */
export function mountAudit(router: express.Router, ctx: ConsoleContext): void {
  const { deps, form, originOf, render, signedIn, sessionOf, decideFor, verification } = ctx;

  router.get('/audit', signedIn('audit.read'), async (req, res) => {
    const session = sessionOf(res);
    const filters = logFilters(req.query);
    const page = pageOf(req);
    const found = await deps.audit.search(searchOf(filters), page);
    const link = (bound: Record<string, number>) => `/console/audit?${new URLSearchParams({ ...(filters as Record<string, string>), ...Object.fromEntries(Object.entries(bound).map(([k, n]) => [k, String(n)])) }).toString()}`;
    const first = found.entries[0]?.seq;
    const last = found.entries.at(-1)?.seq;
    const mayExport = decideFor(session.actor, { action: 'audit.export', platform: 'flaggate' }).allow;
    render(res, 200, 'Audit log', logBody({
      verification: await verification.latest(),
      filters,
      entries: found.entries,
      ...(found.olderExist && last !== undefined ? { older: link({ before: last }) } : {}),
      ...(found.newerExist && first !== undefined ? { newer: link({ after: first }) } : {}),
      csrf: session.csrf,
      mayExport,
    }), session);
  });

  router.post('/audit/verify', signedIn('audit.read'), form, async (req, res) => {
    checkForm(req, originOf(req), sessionOf(res).csrf);
    await verification.fresh();
    res.redirect(303, '/console/audit');
  });

  router.get('/audit/entries/:seq', signedIn('audit.read'), async (req, res) => {
    const seq = seqParam(req.params.seq);
    // Through the search, which shows a row whose body is not an entry instead of failing on it.
    const entry = (await deps.audit.search({}, { after: seq - 1, limit: 1 })).entries[0];
    if (!entry || entry.seq !== seq) throw new FlaggateError('CONTROL_NOT_FOUND', `no entry at seq ${seq}`);
    const checkpoint = deps.audit.checkpoints(seq, Number.MAX_SAFE_INTEGER)[0];
    const checked = checkpoint ? await verifyCheckpoint(checkpoint, deps.audit.keys()) : undefined;
    const checkpointSignature = checked ? { ok: checked.ok, detail: checked.ok ? `verifies with key ${checked.kid}` : `does not verify: ${checked.message}` } : undefined;
    render(res, 200, `Audit entry ${seq}`, entryBody({ entry, hasNext: deps.audit.head().seq > seq, ...(checkpoint ? { checkpoint } : {}), ...(checkpointSignature ? { checkpointSignature } : {}) }), sessionOf(res));
  });

  router.get('/audit/flags/:flag', signedIn('audit.read'), async (req, res) => {
    const flag = textOf(req.params.flag, 'flag')!;
    const page = pageOf(req);
    // Oldest first: the first page starts at the beginning of the chain.
    const found = await deps.audit.search({ flag }, page.before === undefined && page.after === undefined ? { after: 0, limit: PAGE } : page);
    const entries = [...found.entries].reverse().filter(isReadable);
    const base = `/console/audit/flags/${encodeURIComponent(flag)}`;
    const older = found.olderExist && entries[0] ? `${base}?before=${entries[0].seq}` : undefined;
    const newer = found.newerExist && entries.at(-1) ? `${base}?after=${entries.at(-1)!.seq}` : undefined;
    render(res, 200, `Timeline of ${flag}`, timelineBody(flag, entries, older, newer), sessionOf(res));
  });

  router.post('/audit/export', signedIn('audit.export'), form, async (req, res) => {
    checkForm(req, originOf(req), sessionOf(res).csrf);
    const body = req.body as Record<string, unknown>;
    const filters = logFilters(body);
    const period = searchOf(filters);
    await deps.sendExport(res, {
      filters: { ...(period.flag ? { flag: period.flag } : {}), ...(period.environment ? { environment: period.environment } : {}), ...(period.actor ? { actor: period.actor } : {}), ...(period.action ? { action: period.action } : {}) },
      ...(period.from ? { from: period.from } : {}),
      ...(period.to ? { to: period.to } : {}),
    });
  });
}

/** The filters of a request: text values capped, the outcome one of the known ones, dates whole days. */
function logFilters(q: Record<string, unknown>): LogFilters {
  const filters: LogFilters = {};
  for (const key of ['flag', 'environment', 'actor', 'action'] as const) {
    const value = textOf(q[key], key);
    if (value !== undefined) filters[key] = value;
  }
  const outcome = textOf(q.outcome, 'outcome');
  if (outcome !== undefined) {
    if (!(OUTCOME_FILTERS as readonly string[]).includes(outcome)) throw new FlaggateError('CONTROL_BAD_REQUEST', `outcome must be one of ${OUTCOME_FILTERS.join(', ')}`);
    filters.outcome = outcome;
  }
  for (const key of ['from', 'to'] as const) {
    const value = textOf(q[key], key);
    if (value === undefined) continue;
    if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) throw new FlaggateError('CONTROL_BAD_REQUEST', `${key} must be a day, YYYY-MM-DD`);
    filters[key] = value;
  }
  return filters;
}

/** The ledger search for the form's filters: the period runs from the start of `from` to the end of `to` (UTC). */
function searchOf(f: LogFilters): EntrySearch {
  const { from, to, ...rest } = f;
  const search: EntrySearch = { ...rest };
  if (from) search.from = new Date(`${from}T00:00:00Z`).toISOString();
  if (to) search.to = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString();
  return search;
}

function pageOf(req: Request): EntryPage {
  const before = req.query.before === undefined ? undefined : seqParam(req.query.before);
  const after = req.query.after === undefined ? undefined : seqParam(req.query.after, 0);
  return { limit: PAGE, ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) };
}

function textOf(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw new FlaggateError('CONTROL_BAD_REQUEST', `${name} must be one value of at most ${MAX_TEXT} characters`);
  return value.trim() === '' ? undefined : value.trim();
}

function seqParam(value: unknown, min = 1): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || Number(value) < min) throw new FlaggateError('CONTROL_NOT_FOUND', 'an entry is named by its seq, a whole number');
  return Number(value);
}
