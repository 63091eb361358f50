import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import type { ExportFilters } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';

/** What an export download is asked for: a period (ISO, `to` exclusive) and the package filters. */
export interface ExportQuery {
  from?: string;
  to?: string;
  filters: ExportFilters;
}

export interface ExportArchiveDeps {
  clock: Clock;
  logger: Logger;
  audit: { exportTo(dir: string, options: ExportQuery & { signal?: AbortSignal }): Promise<string> };
}

/** Sends one export package as a download; shared by `/v1/audit/export` and the console. */
export type SendExport = (res: Response, query: ExportQuery) => Promise<void>;

/**
 * The export package as a gzipped tar of the folder `flaggate verify-export` checks. Workers write
 * and pack it; the server only sends a file, with backpressure, and removes it when the response
 * closes, whether it finished, failed or the client went away. Rejects (nothing sent) when the
 * package cannot be written.
 */
export function exportSender(deps: ExportArchiveDeps, maxWriting = MAX_EXPORTS_WRITING): SendExport {
  let writingNow = 0;
  return async (res, query) => {
    if (writingNow >= maxWriting) throw new FlaggateError('CONTROL_BUSY', `${writingNow} export packages are being written; try again shortly`);
    writingNow += 1;
    try {
      await send(res, query);
    } finally {
      writingNow -= 1;
    }
  };

  async function send(res: Response, query: ExportQuery): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'flaggate-export-'));
    const remove = () => rmSync(dir, { recursive: true, force: true });
    const gone = new AbortController();
    let writing = true; // a worker may still create files: remove the folder once it has stopped
    res.once('close', () => {
      gone.abort(new Error('the client closed the export response'));
      if (!writing) remove();
    });
    let archive: string;
    try {
      archive = await deps.audit.exportTo(dir, { ...query, signal: gone.signal });
    } catch (err) {
      if (gone.signal.aborted) return;
      throw err;
    } finally {
      writing = false;
      if (gone.signal.aborted) remove(); // otherwise removed when the response closes
    }
    if (gone.signal.aborted) return;
    res.setHeader('content-type', 'application/gzip');
    res.setHeader('content-length', String(statSync(archive).size));
    res.setHeader('content-disposition', `attachment; filename="flaggate-export-${deps.clock.now()}.tar.gz"`);
    pipeline(createReadStream(archive), res).catch((err: unknown) => {
      if (!gone.signal.aborted) deps.logger.warn('export stream failed', { error: String(err) });
    });
  }
}

/**
 * Packages written at once: each reads the whole period and runs worker threads, so callers asking
 * at once (any holder of audit.export) would otherwise take every core from the proxy.
 */
const MAX_EXPORTS_WRITING = 2;

/** `GET /v1/audit/export?from&to&flag&environment&actor&action`. */
export function exportArchive(send: SendExport): RequestHandler {
  return async (req: Request, res, next) => {
    try {
      const filters: ExportFilters = {};
      for (const key of ['flag', 'environment', 'actor', 'action'] as const) {
        const value = req.query[key];
        if (value !== undefined) filters[key] = textParam(value, key);
      }
      const from = req.query.from === undefined ? undefined : isoParam(req.query.from, 'from');
      const to = req.query.to === undefined ? undefined : isoParam(req.query.to, 'to');
      await send(res, { filters, ...(from ? { from } : {}), ...(to ? { to } : {}) });
    } catch (err) {
      next(err);
    }
  };
}

function textParam(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw new FlaggateError('CONTROL_BAD_REQUEST', `${name} must be one non-empty value`);
  return value;
}

function isoParam(value: unknown, name: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new FlaggateError('CONTROL_BAD_REQUEST', `${name} must be an ISO 8601 time`);
  return new Date(ms).toISOString();
}
