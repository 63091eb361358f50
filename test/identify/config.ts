import { loadConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/schema.js';

/** The schema's identity defaults, with overrides. */
export function identityConfig(overrides: Partial<Config['identity']> = {}): Config['identity'] {
  return { ...structuredClone(loadConfig({ env: {} }).identity), ...overrides };
}

/** 2030-01-01T12:00:00Z: whole seconds, so JWT NumericDates line up with the clock exactly. */
export const NOW_MS = Date.UTC(2030, 0, 1, 12);
export const NOW = NOW_MS / 1000;
