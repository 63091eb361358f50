import { existsSync } from 'node:fs';
import { flagdSchemaUrl, writeFlagFileAtomic, type FlagFile } from './flag-file.js';

/** The flags a fresh embedded setup starts with, so the walkthrough has something to change. */
const exampleFlags: FlagFile = {
  $schema: flagdSchemaUrl,
  flags: {
    'checkout.new-flow': {
      state: 'DISABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
    },
    'search.ranking-v2': {
      state: 'ENABLED',
      variants: { control: 'v1', treatment: 'v2' },
      defaultVariant: 'control',
      targeting: { fractional: [['control', 90], ['treatment', 10]] },
    },
    'payments.instant-payouts': {
      state: 'DISABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
    },
  },
};

/** Writes the example flag file when none exists; never touches an existing one. */
export function seedFlagFile(path: string): boolean {
  if (existsSync(path)) return false;
  writeFlagFileAtomic(path, exampleFlags);
  return true;
}
