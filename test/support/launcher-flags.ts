import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const LAUNCHER_LINE = /^#!\/usr\/bin\/env -S node((?: --[a-z0-9-]+(?:=[^\s]+)?)*)\n/;

/**
 * The node flags of flaggate's launcher line (the first line of `src/cli.ts`, or of the built
 * `dist/cli.js`: `#!/usr/bin/env -S node --flag …`), which the Dockerfile and `npm start` repeat
 * and the benchmark starts flaggate with.
 */
export function launcherFlags(root: string, file = 'src/cli.ts'): string[] {
  const match = LAUNCHER_LINE.exec(readFileSync(join(root, file), 'utf8'));
  if (!match) throw new Error(`${file} does not start with a "#!/usr/bin/env -S node …" line`);
  return match[1]!.split(' ').filter((flag) => flag !== '');
}
