import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';

describe('a worker of the built JavaScript', () => {
  it('starts without the Node.js options and preloads of the process that starts it, but its profiling ones', () => {
    const tmp = makeTempDir('flaggate-start-worker-');
    try {
      // start-worker.ts as the build writes it, beside a worker module that reports what it got.
      const source = readFileSync(new URL('../../src/audit/start-worker.ts', import.meta.url), 'utf8');
      const built = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(join(tmp.dir, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(tmp.dir, 'start-worker.js'), built);
      writeFileSync(join(tmp.dir, 'report-worker.js'), "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ execArgv: process.execArgv, preloaded: globalThis.preloaded === true });\n");
      writeFileSync(join(tmp.dir, 'preload.mjs'), 'globalThis.preloaded = true;\n');
      writeFileSync(
        join(tmp.dir, 'main.mjs'),
        "import { startModuleWorker } from './start-worker.js';\n" +
          "const worker = startModuleWorker('report-worker', {});\n" +
          "worker.once('message', (m) => { console.log(JSON.stringify({ main: { execArgv: process.execArgv, preloaded: globalThis.preloaded === true }, worker: m })); worker.terminate(); });\n",
      );
      const preload = pathToFileURL(join(tmp.dir, 'preload.mjs')).href;
      const profiling = ['--cpu-prof', '--cpu-prof-dir', join(tmp.dir, 'profiles'), '--cpu-prof-interval=5000'];
      const out = execFileSync(process.execPath, ['--import', preload, '--no-liftoff', ...profiling, join(tmp.dir, 'main.mjs')], { encoding: 'utf8' });
      const seen = JSON.parse(out) as { main: { execArgv: string[]; preloaded: boolean }; worker: { execArgv: string[]; preloaded: boolean } };
      // The process has the preload, V8's flag and the profiling options; its worker only the last.
      expect(seen.main).toEqual({ execArgv: ['--import', preload, '--no-liftoff', ...profiling], preloaded: true });
      expect(seen.worker).toEqual({ execArgv: profiling, preloaded: false });
      // Both wrote a profile.
      expect(readdirSync(join(tmp.dir, 'profiles')).filter((f) => f.endsWith('.cpuprofile'))).toHaveLength(2);
    } finally {
      tmp.cleanup();
    }
  });
});
