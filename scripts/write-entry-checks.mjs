// Writes src/audit/entry-checks.generated.ts from the schema in src/audit/entry-schema.ts: `npm run write:entry-checks` (builds before and after).
import { writeFileSync } from 'node:fs';
import { ENTRY_CHECKS_FILE, entryChecksModule } from '../dist/audit/entry-check-code.js';

writeFileSync(new URL(`../${ENTRY_CHECKS_FILE}`, import.meta.url), entryChecksModule());
