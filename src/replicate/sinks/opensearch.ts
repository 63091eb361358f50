import type { AuditEntry } from '../../audit/index.js';
import { FlaggateError } from '../../errors.js';
import type { Sink } from '../sink.js';
import { backoffDelay, sleep } from './backoff.js';
import { indexTemplate } from './opensearch-template.js';

export interface OpenSearchSinkOptions {
  name: string;
  required: boolean;
  /** The cluster's base URL (`https://search.example:9200`); `/_bulk` and `/_index_template` are under it. */
  url: string;
  /**
   * The index entries are written to: one concrete index, not an alias (a rollover behind an alias
   * would take a resent entry as new in the next index), and one whose translog is fsync'd before
   * each reply (`index.translog.durability: request`, the default; `async` is refused).
   */
  index: string;
  /** Basic authentication, or an API key (`Authorization: ApiKey <key>`); neither for an open cluster. */
  username?: string;
  password?: string;
  apiKey?: string;
  /** Put the index template (docs/opensearch-index-template.json) before the first delivery. */
  installTemplate?: boolean;
  timeoutMs?: number;
  /** Attempts per delivery, first included. */
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
}

/** What one bulk request achieved: the entries now held (created, or there already), and why the rest are not. */
interface BulkOutcome {
  held: number;
  retryable: boolean;
  error: string | null;
  /** Positions (below `held`) the index answered 409 for: it had a document under that id already. */
  conflicts: number[];
}

/** The document id of an entry: one per chain position, so a resent entry can only collide with itself. */
export function documentId(entry: Pick<AuditEntry, 'chain_id' | 'seq'>): string {
  return `${entry.chain_id}:${entry.seq}`;
}

/**
 * Feeds Elasticsearch or OpenSearch through `_bulk`, one `create` action per entry with `_id` =
 * `chain_id:seq`. A `create` of an id the index already holds fails with 409 and changes nothing,
 * so a batch resent after a timeout, a restart or a lost cursor never duplicates: 201 means "held",
 * and so does 409 once the document there is found to carry the entry's hash (else it is refused). The bulk reply is read item by item (a 200 may carry failures): the entries up to
 * the first failed item are acknowledged, the rest retried (429, 5xx, network) with backoff; a
 * refused item (a mapping error, a 403) stops the retries at once. A delivery that held nothing
 * throws REPLICATE_UNACKED; one that held part of the batch resolves with the last seq it held. A 2xx item has
 * been written to the shard's translog, which the cluster fsyncs before replying by default.
 */
export function createOpenSearchSink(options: OpenSearchSinkOptions): Sink {
  if (options.apiKey && (options.username || options.password)) throw new TypeError('an opensearch sink takes an API key or a username and password, not both');
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoff ?? { baseMs: 200, maxMs: 10_000 };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = options.url.replace(/\/+$/, '');
  const headers = authHeaders(options);
  let lastSeq = 0;
  let templateReady = !(options.installTemplate ?? true);
  /** When the index was last found fit (0: never), and whether it existed then. */
  let checkedAt = 0;
  let indexSeen = false;

  const post: Post = async (path, method, body, contentType) => {
    const res = await fetch(`${base}${path}`, { method, headers: { ...headers, 'content-type': contentType }, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text() };
  };

  const putTemplate = async (): Promise<void> => {
    const res = await post(`/_index_template/${encodeURIComponent(options.index)}`, 'PUT', JSON.stringify(indexTemplate(options.index)), 'application/json');
    if (res.status < 200 || res.status > 299) throw refused(options.name, res.status, res.text);
    templateReady = true;
  };

  /**
   * A 409 means the index holds a document under that id, not that it holds this entry: one planted
   * there, or left by another writer of the same chain id, must not count as delivered. The held
   * prefix is cut at the first document whose hash is not the entry's.
   */
  const confirmConflicts = async (entries: AuditEntry[], outcome: BulkOutcome): Promise<BulkOutcome> => {
    if (outcome.conflicts.length === 0) return outcome;
    const ids = outcome.conflicts.map((i) => documentId(entries[i]!));
    const res = await post(`/${encodeURIComponent(options.index)}/_mget?_source_includes=hash`, 'POST', JSON.stringify({ ids }), 'application/json');
    if (res.status < 200 || res.status > 299) return { ...outcome, held: outcome.conflicts[0]!, retryable: retryable(res.status), error: refused(options.name, res.status, res.text).message };
    const docs = (JSON.parse(res.text) as { docs?: Array<{ found?: boolean; _source?: { hash?: unknown } }> }).docs ?? [];
    for (const [k, i] of outcome.conflicts.entries()) {
      const found = docs[k]?._source?.hash;
      if (found !== entries[i]!.hash) {
        const error = `the index holds a different document under ${ids[k]} (hash ${String(found)}, not ${entries[i]!.hash})`;
        return { ...outcome, held: i, retryable: false, error };
      }
    }
    return outcome;
  };

  const bulk = async (entries: AuditEntry[]): Promise<BulkOutcome> => {
    const res = await post('/_bulk', 'POST', bulkBody(options.index, entries), 'application/x-ndjson');
    if (res.status < 200 || res.status > 299) return { held: 0, retryable: retryable(res.status), error: refused(options.name, res.status, res.text).message, conflicts: [] };
    return confirmConflicts(entries, readBulkReply(res.text, entries.length));
  };

  return {
    name: options.name,
    required: options.required,
    async deliver(entries) {
      let pending = entries.filter((e) => e.seq > lastSeq);
      if (pending.length === 0) return lastSeq;
      const first = pending[0]!.seq;
      let lastError: unknown;
      for (let attempt = 0; attempt < maxAttempts && pending.length > 0; attempt += 1) {
        if (attempt > 0) await sleep(backoffDelay(attempt - 1, backoff));
        try {
          if (!templateReady) await putTemplate();
          if (Date.now() - checkedAt > RECHECK_MS) [indexSeen, checkedAt] = [await checkIndex(post, options), Date.now()];
          const outcome = await bulk(pending);
          // An index this delivery made (from the template, or from another's) is known only now.
          if (outcome.held > 0 && !indexSeen) [indexSeen, checkedAt] = [await checkIndex(post, options), Date.now()];
          if (outcome.held > 0) {
            lastSeq = pending[outcome.held - 1]!.seq;
            pending = pending.slice(outcome.held);
          }
          if (pending.length === 0) return lastSeq;
          lastError = new Error(outcome.error ?? 'bulk reply held fewer items than sent');
          if (!outcome.retryable) break;
        } catch (err) {
          lastError = err;
          if (err instanceof TargetRefused) break;
        }
      }
      // Part of the batch is held: acknowledge it; the follower resends the rest and meets the failure again.
      if (lastSeq >= first) return lastSeq;
      throw new FlaggateError('REPLICATE_UNACKED', `sink "${options.name}" did not acknowledge seq ${pending[0]!.seq}..${pending[pending.length - 1]!.seq}`, {
        cause: lastError,
        details: { sink: options.name, acked: lastSeq },
      });
    },
    async close() {},
  };
}

/** NDJSON: an action line and a document line per entry, and the final newline `_bulk` requires. */
function bulkBody(index: string, entries: AuditEntry[]): string {
  let body = '';
  for (const e of entries) {
    body += JSON.stringify({ create: { _index: index, _id: documentId(e) } }) + '\n';
    body += JSON.stringify(searchDocument(e)) + '\n';
  }
  return body;
}

/**
 * The indexed document: the fields people search by at the top, typed by the template, and the whole
 * entry, with its hash, under `entry` as stored but not indexed (its states differ in shape from
 * flag to flag, and dynamic mapping would refuse the second shape).
 */
function searchDocument(e: AuditEntry): Record<string, unknown> {
  return {
    '@timestamp': e.timestamp_utc,
    chain_id: e.chain_id,
    seq: e.seq,
    hash: e.hash,
    event_id: e.event_id,
    entry_type: e.entry_type,
    decision_id: e.decision_id,
    change_request_id: e.change_request_id,
    actor: { id: e.actor.id, auth_method: e.actor.auth_method, roles: e.actor.roles },
    action: e.action,
    platform: e.platform,
    project: e.project,
    flag_key: e.flag_key,
    environment: e.environment,
    reason: e.reason,
    allow: e.decision.allow,
    error_code: e.decision.error_code ?? e.outcome?.error_code ?? null,
    policy_revision: e.decision.policy_revision,
    outcome_status: e.outcome?.status ?? null,
    entry: e,
  };
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string };
}

/** Counts the leading items that are held (201 created, 409 there already: confirmed by hash after); the first other one says whether to retry. */
function readBulkReply(text: string, sent: number): BulkOutcome {
  let items: Array<Record<string, BulkItem>>;
  try {
    items = (JSON.parse(text) as { items?: Array<Record<string, BulkItem>> }).items ?? [];
  } catch {
    return { held: 0, retryable: true, error: `bulk reply is not JSON: ${text.slice(0, 200)}`, conflicts: [] };
  }
  let held = 0;
  const conflicts: number[] = [];
  for (const item of items.slice(0, sent)) {
    const result = item.create ?? {};
    const status = result.status ?? 0;
    if ((status >= 200 && status <= 299) || status === 409) {
      if (status === 409) conflicts.push(held);
      held += 1;
      continue;
    }
    return { held, retryable: retryable(status), error: `item ${held + 1} answered ${status}: ${result.error?.type ?? ''} ${result.error?.reason ?? ''}`.trim(), conflicts };
  }
  return { held, retryable: true, error: held < sent ? `bulk reply has ${items.length} items for ${sent} sent` : null, conflicts };
}

function authHeaders(o: OpenSearchSinkOptions): Record<string, string> {
  if (o.apiKey) return { authorization: `ApiKey ${o.apiKey}` };
  if (o.username !== undefined) return { authorization: `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}` };
  return {};
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

type Post = (path: string, method: string, body: string | undefined, contentType: string) => Promise<{ status: number; text: string }>;

/** Settings change (an index set to async, an alias put in its place): the index is looked at again this often. */
const RECHECK_MS = 60_000;

/**
 * What a 201 or a 409 proves holds only for one concrete index fsync'd per request: anything else
 * is refused (not retried), before anything is sent, and again after the delivery that made the
 * index. True when the index exists and is fit; false when it does not exist yet.
 */
async function checkIndex(post: Post, options: Pick<OpenSearchSinkOptions, 'name' | 'index'>): Promise<boolean> {
  const index = encodeURIComponent(options.index);
  const refuse = (why: string) => new TargetRefused(`sink "${options.name}": ${options.index} ${why}`);
  if (ok((await post(`/_alias/${index}`, 'GET', undefined, 'application/json')).status)) {
    throw refuse('is an alias; name one concrete index (after a rollover a resent entry would be created again in the next one, and a 409 could not be confirmed)');
  }
  const stream = await post(`/_data_stream/${index}`, 'GET', undefined, 'application/json');
  if (ok(stream.status) && namesDataStream(stream.text)) {
    throw refuse('is a data stream; name one concrete index (its backing indices roll over, and an id is unique only within one)');
  }
  const settings = await post(`/${index}/_settings?include_defaults=true&flat_settings=true`, 'GET', undefined, 'application/json');
  if (settings.status === 404) return false;
  if (!ok(settings.status)) throw refused(options.name, settings.status, settings.text);
  const found = Object.entries(JSON.parse(settings.text) as Record<string, { settings?: Record<string, unknown>; defaults?: Record<string, unknown> }>);
  if (found.length !== 1 || found[0]![0] !== options.index) throw refuse(`names ${found.map(([name]) => name).join(', ') || 'no index'}, not one index of that name`);
  const { settings: set, defaults } = found[0]![1];
  // OpenSearch reports its default in capitals (REQUEST).
  const durability = String(set?.['index.translog.durability'] ?? defaults?.['index.translog.durability'] ?? 'request').toLowerCase();
  if (durability !== 'request') {
    throw refuse(`has index.translog.durability: ${durability}, so it answers before its translog is fsync'd; it must be request, or an acknowledged entry could be lost`);
  }
  return true;
}

const ok = (status: number) => status >= 200 && status <= 299;

/** A `GET /_data_stream/<name>` reply that lists a stream (some versions answer 200 with none for a plain index). */
function namesDataStream(text: string): boolean {
  try {
    const streams = (JSON.parse(text) as { data_streams?: unknown }).data_streams;
    return Array.isArray(streams) && streams.length > 0;
  } catch {
    return false;
  }
}

/** The index named is not one whose answers prove an entry held: no retry changes that. */
class TargetRefused extends Error {}

function refused(sink: string, status: number, text: string): Error {
  return new Error(`sink "${sink}" answered ${status}: ${text.slice(0, 200)}`);
}
