import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flagdPlugin } from '../../../src/platforms/flagd/index.js';
import type { PlatformSettings } from '../../../src/platforms/index.js';
import { makeTempDir } from '../../support/temp-dir.js';

const tmp = makeTempDir('flaggate-flagd-temp-');
afterAll(() => tmp.cleanup());

describe('the temp files a killed writer leaves beside the flag file', () => {
  it('are removed at start-up once they are older than any write under way; the flag file and other files stay', () => {
    const file = join(tmp.dir, 'flags.flagd.json');
    writeFileSync(file, '{"flags":{}}\n');
    // A writer killed between writing its temp file and renaming it, twice; one writing right now.
    const killed = ['.flags.flagd.json.0123456789ab.tmp', '.flags.flagd.json.ba9876543210.tmp'];
    const live = '.flags.flagd.json.aaaaaaaaaaaa.tmp';
    const others = ['.other.json.0123456789ab.tmp', '.flags.flagd.json.not-hex-at-all.tmp', 'notes.txt'];
    const old = new Date(Date.now() - 10 * 60_000);
    for (const name of [...killed, live, ...others]) writeFileSync(join(tmp.dir, name), '{"flags":{}}\n');
    for (const name of [...killed, ...others]) utimesSync(join(tmp.dir, name), old, old);
    const settings = { name: 'flagd', targetUrl: file, environment: 'production', timeoutMs: 10_000 } as unknown as PlatformSettings;
    expect(flagdPlugin.seed!(settings)).toBe(`removed 2 temp file(s) a stopped writer left beside ${file}`);
    expect(readdirSync(tmp.dir).sort()).toEqual([live, ...others, 'flags.flagd.json'].sort());
    expect(existsSync(file)).toBe(true);
    expect(flagdPlugin.seed!(settings)).toBeUndefined();
  });
});
