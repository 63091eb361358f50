/**
 * An in-house service whose store ignores case (`CHECKOUT` reads and writes `checkout`): without a
 * `keyPointer`, flaggate records flag `CHECKOUT` while the service flips `checkout`, which a policy
 * on the exact name never saw; with one, the state read's answer must name the flag asked for.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { inHouseConfigYaml, startInHouseService, type InHouseService } from '../support/inhouse-flag-service.js';
import { makeTempDir } from '../support/temp-dir.js';
import { auditEntries } from '../support/unleash-sidecar.js';

const KEY = 'svc-key-0123456789';

let service: InHouseService;
let tmp: { dir: string; cleanup(): void };
const apps: Record<'checked' | 'unchecked', TestFlaggate | undefined> = { checked: undefined, unchecked: undefined };

async function start(name: keyof typeof apps): Promise<TestFlaggate> {
  const file = join(tmp.dir, `${name}.yaml`);
  writeFileSync(file, inHouseConfigYaml(service.url, KEY, { keyPointer: name === 'checked' }));
  return (apps[name] = await startTestFlaggate({}, { FLAGGATE_CONFIG: file }));
}

async function send(app: TestFlaggate, method: string, path: string, body?: unknown) {
  const token = await app.token('riley', 'release_engineer');
  const res = await fetch(app.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-45', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const entries = (await auditEntries(app, await app.token('ada', 'auditor'))).filter((e) => e.decision_id === res.headers.get('x-flaggate-decision-id'));
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, entries };
}

const enabled = (name: string, env: string) => service.flags.get(name)?.environments[env]?.enabled;

beforeAll(async () => {
  service = await startInHouseService(KEY, { caseInsensitive: true });
  tmp = makeTempDir('flaggate-rest-key-');
  await Promise.all([start('checked'), start('unchecked')]);
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a?.stop()));
  await service?.stop();
  tmp?.cleanup();
}, 60_000);

describe('a state read that names the flag it found (keyPointer)', () => {
  it('without it, a key in another case is recorded as one flag and applied to another', async () => {
    const app = apps.unchecked!;
    expect((await send(app, 'POST', '/api/flags', { name: 'checkout' })).status).toBe(201);
    const res = await send(app, 'PATCH', '/api/flags/CHECKOUT?env=staging', { enabled: true });
    expect(res.status).toBe(200);
    expect(res.entries[0]).toMatchObject({ action: 'flag.update', flag_key: 'CHECKOUT' });
    expect(enabled('checkout', 'staging')).toBe(true);
  });

  it('with it, that change is refused with ADAPT_TARGET_MISMATCH and recorded, and the service is untouched', async () => {
    const app = apps.checked!;
    const res = await send(app, 'PATCH', '/api/flags/CHECKOUT?env=production', { enabled: true });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    expect(String(res.json.message)).toContain('"checkout"');
    expect(res.entries[0]).toMatchObject({ entry_type: 'change.decision', flag_key: 'CHECKOUT', decision: { allow: false } });
    expect(enabled('checkout', 'production')).toBe(false);
    // A create of a name the store already holds in another case, and a delete through it, alike.
    expect((await send(app, 'POST', '/api/flags', { name: 'Checkout' })).json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    expect((await send(app, 'DELETE', '/api/flags/cHeckout')).json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    expect(service.flags.get('checkout')?.name).toBe('checkout');
  });

  it("with it, the flag's own key goes through, and a flag the service does not hold is created", async () => {
    const app = apps.checked!;
    expect((await send(app, 'PATCH', '/api/flags/checkout?env=production', { enabled: true })).status).toBe(200);
    expect(enabled('checkout', 'production')).toBe(true);
    const created = await send(app, 'POST', '/api/flags', { name: 'Search' });
    expect(created.status).toBe(201);
    expect(created.entries[0]).toMatchObject({ action: 'flag.create', flag_key: 'Search', previous_state: { exists: false } });
  });
});
