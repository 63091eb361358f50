import { describe, expect, it } from 'vitest';
import { changeStoreKind } from '../../src/approvals/index.js';
import { loadConfig } from '../../src/config/index.js';

const PG = 'postgres://flaggate@127.0.0.1:5432/ledger';

describe('changeStoreKind', () => {
  it('keeps change requests in the local ledger file by default', () => {
    expect(changeStoreKind(loadConfig({ env: {} }))).toBe('local');
  });

  it('shares them through PostgreSQL when a postgres sink is configured', () => {
    expect(changeStoreKind(loadConfig({ env: { FLAGGATE_UPSTREAM_POSTGRES_URL: PG } }))).toBe('postgres');
  });

  it('keeps them local when approvals.store says so, even beside a postgres sink', () => {
    expect(changeStoreKind(loadConfig({ env: { FLAGGATE_UPSTREAM_POSTGRES_URL: PG, FLAGGATE_APPROVALS_STORE: 'local' } }))).toBe('local');
  });

  it('rejects approvals.store=postgres when no postgres sink is configured', () => {
    expect(() => loadConfig({ env: { FLAGGATE_APPROVALS_STORE: 'postgres' } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/approvals\.store/) }));
  });
});
