// Writes docs/audit-entry.schema.json from the schema in src/audit/entry-schema.ts (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { auditEntryJsonSchema } from '../dist/audit/entry-schema.js';

writeFileSync(new URL('../docs/audit-entry.schema.json', import.meta.url), JSON.stringify(auditEntryJsonSchema(), null, 2) + '\n');
