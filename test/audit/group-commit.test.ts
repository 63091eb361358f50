import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createGroupCommit, openLedger, openLedgerReader, verifyChain, type AuditEntry, type Ledger, type NewEntry } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(commit?: (ledger: Ledger, entries: Parameters<Ledger['commit']>[0]) => AuditEntry[], soonMs?: number) {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId: 'group', clock: fixedClock(0) });
  cleanups.push(() => {
    ledger.close();
    tmp.cleanup();
  });
  let transactions = 0;
  const counted = {
    prepare: ledger.prepare,
    commit: (entries: Parameters<Ledger['commit']>[0]) => ((transactions += 1), commit ? commit(ledger, entries) : ledger.commit(entries)),
  };
  return { ledger, path, group: createGroupCommit(counted, soonMs === undefined ? {} : { soonMs }), transactions: () => transactions };
}

async function verified(path: string) {
  const reader = openLedgerReader(path);
  try {
    return await verifyChain(reader.read);
  } finally {
    reader.close();
  }
}

const depth = 100_000;
/** Entries no canonical JSON or no schema accepts, built the way a request body or header would bring them. */
const poisons: Array<{ name: string; poison(n: number): NewEntry }> = [
  { name: 'Infinity (1e999 in a parsed body)', poison: (n) => sampleEntry(n, { new_state: JSON.parse('{"targeting":{"x":1e999}}') as unknown }) },
  { name: 'a flag key longer than the schema allows', poison: (n) => sampleEntry(n, { flag_key: 'k'.repeat(5000) }) },
  { name: 'a path longer than the schema allows', poison: (n) => sampleEntry(n, { request: { method: 'POST', path: `/flags/a/enable?${'q'.repeat(8000)}`, body_sha256: 'cd'.repeat(32) } }) },
  { name: 'very deep JSON', poison: (n) => sampleEntry(n, { new_state: JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown }) },
  { name: 'a lone surrogate in a value', poison: (n) => sampleEntry(n, { new_state: JSON.parse('{"note":"\\ud800"}') as unknown }) },
  { name: 'a lone surrogate in a key', poison: (n) => sampleEntry(n, { new_state: JSON.parse('{"\\udc00":1}') as unknown }) },
  { name: 'an actor id longer than the schema allows', poison: (n) => sampleEntry(n, { actor: { id: 'a'.repeat(10_000), display_name: 'x', auth_method: 'jwt', roles: [] } }) },
];

describe('createGroupCommit', () => {
  it('commits concurrent appends together, each answered with its own entry, in order', async () => {
    const { ledger, path, group, transactions } = setup();
    const written = await Promise.all(Array.from({ length: 50 }, (_, i) => group.append(sampleEntry(i + 1))));
    expect(written.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(written.map((e) => e.reason)).toEqual(Array.from({ length: 50 }, (_, i) => `change ${i + 1}`));
    expect(written.every((e) => e.unrecorded === null)).toBe(true);
    expect(transactions()).toBe(1);
    expect(ledger.head().seq).toBe(50);
    expect(await verified(path)).toMatchObject({ ok: true, entries: 50 });
  });

  it('commits an entry appended soon with the next group another entry asks for: one transaction, in the order appended', async () => {
    const { ledger, path, group, transactions } = setup(undefined, 60_000);
    const outcome = group.append(sampleEntry(1), { soon: true });
    await new Promise((r) => setTimeout(r, 30));
    expect(transactions(), 'nothing asked for a commit yet').toBe(0);
    expect(ledger.head().seq).toBe(0);
    const written = await Promise.all([outcome, group.append(sampleEntry(2))]);
    expect(written.map((e) => [e.seq, e.reason])).toEqual([[1, 'change 1'], [2, 'change 2']]);
    expect(transactions()).toBe(1);
    // One appended soon while a commit is already asked for joins that commit.
    const more = await Promise.all([group.append(sampleEntry(3)), group.append(sampleEntry(4), { soon: true })]);
    expect(more.map((e) => e.seq)).toEqual([3, 4]);
    expect(transactions()).toBe(2);
    expect(await verified(path)).toMatchObject({ ok: true, entries: 4 });
  });

  it('commits an entry appended soon on its own once soonMs passes, and at once on flush', async () => {
    const { ledger, group, transactions } = setup(undefined, 40);
    const started = performance.now();
    expect((await group.append(sampleEntry(1), { soon: true })).seq).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
    expect(transactions()).toBe(1);
    const second = group.append(sampleEntry(2), { soon: true });
    group.flush();
    expect(ledger.head().seq, 'flush commits what waits before it returns').toBe(2);
    expect((await second).seq).toBe(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(transactions(), 'the timer of a flushed group commits nothing more').toBe(2);
  });

  it('commits every good entry of a group beside unrecordable ones, each of those replaced by its own capped stand-in', async () => {
    const { path, group, transactions } = setup();
    const entries = Array.from({ length: 40 }, (_, i) => {
      const n = i + 1;
      return n % 5 === 0 ? { n, poison: poisons[(n / 5) % poisons.length]!, entry: poisons[(n / 5) % poisons.length]!.poison(n) } : { n, entry: sampleEntry(n) };
    });
    const written = await Promise.all(entries.map((e) => group.append(e.entry)));
    expect(transactions()).toBe(1);
    expect(written.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    for (const [i, e] of entries.entries()) {
      const w = written[i]!;
      expect(w.decision_id).toBe(e.entry.decision_id);
      if (!e.poison) {
        expect(w).toMatchObject({ unrecorded: null, reason: `change ${e.n}`, decision: { allow: true } });
        continue;
      }
      // The stand-in refuses the change it describes, says why, and carries a digest of what it replaces.
      expect(w, e.poison.name).toMatchObject({
        entry_type: 'change.decision',
        decision: { allow: false, error_code: 'AUDIT_ENTRY_UNRECORDABLE' },
        unrecorded: { error_code: 'AUDIT_ENTRY_UNRECORDABLE', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
      expect(w.unrecorded!.excerpt.length).toBeLessThanOrEqual(257);
    }
    const raw = new Database(path, { readonly: true });
    try {
      const sizes = raw.prepare<[], { n: number }>('SELECT length(body) AS n FROM audit_entries').all().map((r) => r.n);
      expect(Math.max(...sizes)).toBeLessThan(16 * 1024);
    } finally {
      raw.close();
    }
    expect(await verified(path)).toMatchObject({ ok: true, entries: 40 });
  });

  it.each(poisons)('keeps the outcome of an applied change whose entry holds $name, as a capped stand-in', async ({ poison }) => {
    const { group, path } = setup();
    const outcome: NewEntry = {
      ...poison(7),
      entry_type: 'change.outcome',
      outcome: { status: 'applied', platform_status: 200, error_code: null, detail: null, response_sha256: 'ef'.repeat(32) },
    };
    const [before, written, after] = await Promise.all([group.append(sampleEntry(6)), group.append(outcome), group.append(sampleEntry(8))]);
    expect(before!.unrecorded).toBeNull();
    expect(after!.unrecorded).toBeNull();
    expect(written).toMatchObject({
      entry_type: 'change.outcome',
      decision_id: outcome.decision_id,
      decision: { allow: true },
      outcome: { status: 'applied', platform_status: 200, response_sha256: 'ef'.repeat(32) },
      unrecorded: { error_code: 'AUDIT_ENTRY_UNRECORDABLE' },
    });
    expect(await verified(path)).toMatchObject({ ok: true, entries: 3 });
  });

  it('digests what could not be recorded the same way whoever replays it', async () => {
    const { group } = setup();
    const [a, b] = await Promise.all([group.append(poisons[0]!.poison(3)), group.append(poisons[0]!.poison(3))]);
    expect(a!.unrecorded!.sha256).toBe(b!.unrecorded!.sha256);
    expect(a!.unrecorded!.excerpt).toContain('Infinity');
  });

  it('tries each entry on its own when a group transaction fails as a whole, so one failure stays with one entry', async () => {
    let refuseGroups = true;
    const { ledger, group } = setup((l, entries) => {
      // A failure the prepare step cannot see: the group's transaction throws, one entry's own does too.
      if (refuseGroups && entries.length > 1) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
      if (entries.some((e) => e.members.reason === '"change 3"')) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
      return l.commit(entries);
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => group.append(sampleEntry(n))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(ledger.head().seq).toBe(3);
    refuseGroups = false;
    expect((await group.append(sampleEntry(5))).seq).toBe(4);
  });
});
