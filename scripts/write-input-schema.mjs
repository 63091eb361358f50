// Writes docs/policy-input.schema.json from the schema in src/policy/policy-input-schema.ts (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { policyInputJsonSchema } from '../dist/policy/policy-input-schema.js';

writeFileSync(new URL('../docs/policy-input.schema.json', import.meta.url), JSON.stringify(policyInputJsonSchema(), null, 2) + '\n');
