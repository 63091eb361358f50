import type { Config } from '../../src/config/schema.js';

/** The schema's identity defaults, with overrides. */
export function identityConfig(overrides: Partial<Config['identity']> = {}): Config['identity'] {
  return {
    devIssuer: true,
    issuer: 'flaggate-dev',
    audience: 'flaggate',
    algorithms: ['EdDSA', 'ES256', 'RS256', 'PS256'],
    rolesClaim: 'roles',
    nameClaim: 'name',
    leewaySeconds: 30,
    ...overrides,
  };
}

/** 2030-01-01T12:00:00Z: whole seconds, so JWT NumericDates line up with the clock exactly. */
export const NOW_MS = Date.UTC(2030, 0, 1, 12);
export const NOW = NOW_MS / 1000;
