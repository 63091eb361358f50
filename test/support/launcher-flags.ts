import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `#!/usr/bin/env -S NAME=value … node --flag …`: environment assignments, then node and its flags. */
const LAUNCHER_LINE = /^#!\/usr\/bin\/env -S((?: [A-Z_]+=\S+)*) node((?: --[a-z0-9-]+(?:=\S+)?)*)\n/;

/** What flaggate's launcher line gives the process: environment variables and node flags. */
export interface Launcher {
  env: Record<string, string>;
  flags: string[];
}

/**
 * The launcher line of flaggate (the first line of `src/cli.ts`, or of the built `dist/cli.js`),
 * which the Dockerfile and `npm start` repeat and the benchmark starts flaggate with.
 */
export function readLauncher(root: string, file = 'src/cli.ts'): Launcher {
  const match = LAUNCHER_LINE.exec(readFileSync(join(root, file), 'utf8'));
  if (!match) throw new Error(`${file} does not start with a "#!/usr/bin/env -S … node …" line`);
  const words = (text: string) => text.split(' ').filter((word) => word !== '');
  const env = Object.fromEntries(words(match[1]!).map((assignment) => assignment.split('=', 2) as [string, string]));
  return { env, flags: words(match[2]!) };
}

/** The launcher as one command prefix, for reports: `NAME=value node --flag …`. */
export function launchedAs(launcher: Launcher): string {
  return [...Object.entries(launcher.env).map(([name, value]) => `${name}=${value}`), 'node', ...launcher.flags].join(' ');
}
