import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader, verifyChain } from '../../src/audit/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { runCli } from '../replicate/sidecar-process.js';

let app: TestFlaggate;
let release: string;
let qa: string;
let auditor: string;

const filePath = () => `${app.dataDir}/flags.flagd.json`;
const readFile = () => JSON.parse(readFileSync(filePath(), 'utf8')) as { flags: Record<string, Record<string, unknown>> };

async function control(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(app.controlUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * Switches checkout.new-flow on or off through flaggate, and waits for the change's outcome entry
 * (written after the reply): a check while it is still in flight could take later edits as its own.
 */
async function switchCheckout(verb: 'enable' | 'disable'): Promise<Response> {
  const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/${verb}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-1' },
  });
  const decisionId = res.headers.get('x-flaggate-decision-id');
  for (let i = 0; i < 200; i++) {
    const { json } = await control('GET', '/v1/audit/entries?limit=1000', auditor);
    if ((json.entries as Array<Record<string, unknown>>).some((e) => e.entry_type === 'change.outcome' && e.decision_id === decisionId)) return res;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no outcome entry for ${String(decisionId)}`);
}

async function driftEntries() {
  const { json } = await control('GET', '/v1/audit/entries?limit=1000', auditor);
  return (json.entries as Array<Record<string, unknown>>).filter((e) => String(e.entry_type).startsWith('drift.'));
}

async function driftCounter(): Promise<number> {
  const text = await (await fetch(app.controlUrl + '/metrics')).text();
  return [...text.matchAll(/^flaggate_drift_detected_total\{[^}]*platform="flagd"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

beforeAll(async () => {
  // On demand only: the test decides when the watcher looks.
  app = await startTestFlaggate();
  [release, qa, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor')]);
});
afterAll(async () => app?.stop());

describe('drift in front of a flagd file', () => {
  it('finds nothing after a change made through flaggate', async () => {
    const res = await switchCheckout('enable');
    expect(res.status).toBe(200);
    const check = await control('POST', '/v1/drift/check', release);
    expect(check).toMatchObject({ status: 200, json: { detected: [] } });
    expect(await driftEntries()).toEqual([]);
  });

  it('records a hand edit of a flag as drift.detected, with the definition before and after', async () => {
    const file = readFile();
    const before = structuredClone(file.flags['checkout.new-flow']);
    file.flags['checkout.new-flow']!.state = 'DISABLED';
    writeFileSync(filePath(), JSON.stringify(file, null, 2));
    const counted = await driftCounter();

    const check = await control('POST', '/v1/drift/check', release);
    expect(check.status).toBe(200);
    expect(check.json.detected).toHaveLength(1);
    const [entry] = await driftEntries();
    expect(entry).toMatchObject({
      entry_type: 'drift.detected',
      platform: 'flagd',
      flag_key: 'checkout.new-flow',
      previous_state: before,
      new_state: { ...before, state: 'DISABLED' },
      actor: { id: 'flaggate-drift-watcher', auth_method: 'system' },
      drift: { source: 'file', platform_event_id: null, acknowledges: null },
    });
    expect(await driftCounter()).toBe(counted + 1);
    // Found once: the next check compares with what it has now seen.
    expect((await control('POST', '/v1/drift/check', release)).json.detected).toEqual([]);
  });

  it('records a flag added and one removed by hand, each as its own finding', async () => {
    const file = readFile();
    const removedKey = Object.keys(file.flags).find((k) => k !== 'checkout.new-flow')!;
    const removed = file.flags[removedKey];
    delete file.flags[removedKey];
    file.flags['shadow.flag'] = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' };
    writeFileSync(filePath(), JSON.stringify(file));
    const found = (await control('POST', '/v1/drift/check', release)).json.detected as Array<Record<string, unknown>>;
    expect(found.map((f) => [f.flag_key, f.before, f.after]).sort()).toEqual(
      [
        [removedKey, removed, null],
        ['shadow.flag', null, { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' }],
      ].sort(),
    );
  });

  it('records an edit that touches no flag (or breaks the file) by its digest', async () => {
    writeFileSync(filePath(), readFileSync(filePath(), 'utf8') + '\n\n');
    const found = (await control('POST', '/v1/drift/check', release)).json.detected as Array<Record<string, unknown>>;
    expect(found).toEqual([expect.objectContaining({ flag_key: null, source: 'file', before: { sha256: expect.any(String) }, after: { sha256: expect.any(String) } })]);
  });

  it('records an edit of the evaluators flags share, even while flaggate changes a flag', async () => {
    const file = readFile() as { flags: Record<string, Record<string, unknown>>; $evaluators?: Record<string, unknown> };
    file.$evaluators = { staff: { in: [{ var: 'tier' }, ['internal']] } };
    writeFileSync(filePath(), JSON.stringify(file, null, 2));
    await control('POST', '/v1/drift/check', release);
    file.$evaluators = { staff: { in: [{ var: 'tier' }, ['internal', 'gold', 'silver']] } };
    writeFileSync(filePath(), JSON.stringify(file, null, 2));
    // A change through flaggate in the same span explains its own flag, not the evaluators.
    const res = await switchCheckout('disable');
    expect(res.status).toBe(200);
    const found = (await control('POST', '/v1/drift/check', release)).json.detected as Array<Record<string, unknown>>;
    expect(found).toEqual([expect.objectContaining({ flag_key: null, source: 'file', before: { $evaluators: { staff: { in: [{ var: 'tier' }, ['internal']] } } } })]);
  });

  it('records a hand edit that a later change through flaggate to the same flag was decided on, not taking it as explained', async () => {
    await control('POST', '/v1/drift/check', release);
    const file = readFile();
    const edited = { ...file.flags['checkout.new-flow']!, state: 'DISABLED', targeting: { fractional: [['on', 100], ['off', 0]] } };
    file.flags['checkout.new-flow'] = edited;
    writeFileSync(filePath(), JSON.stringify(file, null, 2));
    const res = await switchCheckout('enable');
    expect(res.status).toBe(200);
    const found = (await control('POST', '/v1/drift/check', release)).json.detected as Array<Record<string, unknown>>;
    expect(found).toEqual([expect.objectContaining({ flag_key: 'checkout.new-flow', source: 'file', after: edited })]);
    expect(String((found[0] as { detail?: string; drift?: { detail?: string } }).drift?.detail ?? JSON.stringify(found[0]))).toContain('before flaggate');
  });

  it('lets only a role the policy names acknowledge a finding, with a reason, once', async () => {
    const [finding] = (await control('GET', '/v1/drift?open=true', auditor)).json.findings as Array<{ id: string }>;
    expect(finding).toBeDefined();
    const path = `/v1/drift/${finding!.id}/acknowledge`;
    expect(await control('POST', path, qa, { reason: 'mine' })).toMatchObject({ status: 403, json: { code: 'CONTROL_FORBIDDEN' } });
    expect(await control('POST', path, release, {})).toMatchObject({ status: 400, json: { code: 'CONTROL_BAD_REQUEST' } });
    for (const body of [{ reason: 'fine\u001b[2J' }, { reason: 'fine', ticket: 'INC-7\r\nX-Injected: 1' }]) {
      expect(await control('POST', path, release, body)).toMatchObject({ status: 400, json: { code: 'CONTROL_BAD_REQUEST' } });
    }
    const ack = await control('POST', path, release, { reason: 'emergency edit during INC-7, reviewed', ticket: 'INC-7' });
    expect(ack.status).toBe(201);
    expect(await control('POST', path, release, { reason: 'again' })).toMatchObject({ status: 409, json: { code: 'DRIFT_ALREADY_ACKNOWLEDGED' } });
    expect(await control('POST', '/v1/drift/00000000-0000-4000-8000-000000000000/acknowledge', release, { reason: 'x' })).toMatchObject({ status: 404, json: { code: 'DRIFT_NOT_FOUND' } });

    const acked = (await driftEntries()).find((e) => e.entry_type === 'drift.acknowledged');
    expect(acked).toMatchObject({ actor: { id: 'riley' }, reason: 'emergency edit during INC-7, reviewed', linked_artifacts: { ticket: 'INC-7' }, drift: { acknowledges: finding!.id } });
    const listed = (await control('GET', '/v1/drift', auditor)).json.findings as Array<{ id: string; acknowledged: unknown }>;
    expect(listed.find((f) => f.id === finding!.id)?.acknowledged).toMatchObject({ by: 'riley' });
    expect((await control('GET', '/v1/drift?open=true', auditor)).json.findings).not.toContainEqual(expect.objectContaining({ id: finding!.id }));
  });

  it('flaggate drift check: exit 0 when nothing changed, exit 1 and the finding when something did', async () => {
    const quiet = await runCli(['drift', 'check', '--control', app.controlUrl, '--token', release]);
    expect(quiet).toMatchObject({ code: 0 });
    expect(JSON.parse(quiet.stdout)).toEqual({ detected: [] });
    const file = readFile();
    file.flags['checkout.new-flow']!.state = file.flags['checkout.new-flow']!.state === 'ENABLED' ? 'DISABLED' : 'ENABLED';
    writeFileSync(filePath(), JSON.stringify(file));
    const found = await runCli(['drift', 'check', '--control', app.controlUrl, '--token', release]);
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout).detected).toEqual([expect.objectContaining({ flag_key: 'checkout.new-flow', source: 'file' })]);
  }, 60_000);

  it('finds a hand edit made while flaggate was stopped, at the next start', async () => {
    const dataDir = app.dataDir;
    await app.close();
    const file = readFile();
    const flag = file.flags['checkout.new-flow']!;
    flag.defaultVariant = Object.keys(flag.variants as object).find((v) => v !== flag.defaultVariant)!;
    writeFileSync(`${dataDir}/flags.flagd.json`, JSON.stringify(file));
    // Periodic checks: the one at start-up finds it.
    const restarted = await startTestFlaggate({ dataDir, 'drift.intervalSeconds': 3600 });
    try {
      const found = restarted.drift!.findings().filter((s) => s.detected.flag_key === 'checkout.new-flow');
      expect(found.at(0)?.detected).toMatchObject({ previous_state: { defaultVariant: expect.any(String) }, new_state: { defaultVariant: flag.defaultVariant } });
      const reader = openLedgerReader(`${dataDir}/ledger.sqlite`);
      expect((await verifyChain(reader.rowsAfter)).ok).toBe(true);
      reader.close();
    } finally {
      await restarted.stop();
      rmSync(dataDir, { recursive: true, force: true });
      app = undefined as unknown as TestFlaggate; // closed above
    }
  });
});
