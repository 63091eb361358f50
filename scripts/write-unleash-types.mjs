// Writes src/platforms/unleash/request-types.generated.ts from the schemas recorded from a real Unleash
// (test/fixtures/unleash/request-schemas.json, by scripts/record-unleash-schemas.ts): `npm run write:unleash-types`.
import { readFileSync, writeFileSync } from 'node:fs';
import { UNLEASH_TYPES_FILE, unleashTypesModule } from '../dist/platforms/unleash/request-types-code.js';

const recorded = JSON.parse(readFileSync(new URL('../test/fixtures/unleash/request-schemas.json', import.meta.url), 'utf8'));
writeFileSync(new URL(`../${UNLEASH_TYPES_FILE}`, import.meta.url), unleashTypesModule(recorded));
