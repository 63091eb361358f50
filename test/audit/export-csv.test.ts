import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/entry.js';
import { csvColumns, entriesCsv } from '../../src/audit/export-format.js';
import { sampleEntry } from '../support/entries.js';

function stored(n: number, overrides: Parameters<typeof sampleEntry>[1] = {}): AuditEntry {
  return {
    ...sampleEntry(n, overrides),
    chain_id: 'local',
    seq: n,
    prev_hash: '0'.repeat(64),
    event_id: `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    timestamp_utc: '2030-01-07T10:00:00.000Z',
    hash: 'ab'.repeat(32),
    unrecorded: null,
  };
}

/** The cells of the one data line, by column name. */
function cells(entry: AuditEntry): Record<string, string> {
  const rows = parse(entriesCsv([entry]), { columns: true, relax_quotes: false }) as Array<Record<string, string>>;
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('entriesCsv', () => {
  it.each([
    { name: 'an equals sign', text: '=HYPERLINK("https://evil.test","open")' },
    { name: 'a plus sign', text: '+1+cmd|/c calc' },
    { name: 'a minus sign', text: '-2+3' },
    { name: 'an at sign', text: '@SUM(A1:A9)' },
    { name: 'a tab', text: '\t=1+1' },
    { name: 'a carriage return', text: '\r=1+1' },
  ])('escapes a caller-chosen cell starting with $name so a spreadsheet shows it as text', ({ text }) => {
    const row = cells(
      stored(1, {
        reason: text,
        linked_artifacts: { pr: text, build: null, ticket: text },
        actor: { id: text, display_name: text, auth_method: 'jwt', roles: ['release_engineer'] },
      }),
    );
    for (const column of ['reason', 'ticket', 'pr', 'actor_id', 'actor_display_name']) expect(row[column], column).toBe(`'${text}`);
  });

  it('leaves ordinary cells, numbers and the columns verify-export compares unchanged', () => {
    const entry = stored(7, { reason: 'a - b = c', outcome: { status: 'failed', platform_status: 502, response_sha256: null, error_code: null, detail: null } });
    const row = cells(entry);
    expect(row).toMatchObject({ seq: '7', hash: entry.hash, reason: 'a - b = c', platform_status: '502', flag_key: 'flag.7' });
    expect(Object.keys(row)).toEqual([...csvColumns]);
  });
});
