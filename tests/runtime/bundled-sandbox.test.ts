/**
 * The sandbox bundled as the runner Lambda is bundled (esbuild, ESM, minified) and run by plain
 * node (no tsx, no vitest transform): the worker code travels inside the bundle, so there is no
 * worker file to resolve at run time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { tempDir } from '../support/env';

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('orch-bundle-');
});
afterAll(() => dir?.cleanup());

describe('bundled sandbox', () => {
  it('inspects and runs agents (ok, error, exit, timeout) from a single esbuild bundle under plain node', async () => {
    const out = join(dir.path, 'sandbox.mjs');
    await build({
      entryPoints: [join(process.cwd(), 'shared/adapters/node/sandbox.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: true,
      outfile: out,
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: 'silent',
    });
    const script = join(dir.path, 'main.mjs');
    writeFileSync(
      script,
      `import { WorkerSandbox } from './sandbox.mjs';
import { createHash } from 'node:crypto';
const sb = new WorkerSandbox({ memoryMb: 64 });
const ref = (src) => { const bytes = new TextEncoder().encode(src); return { key: 'agents/b/1.0.0.mjs', sha256: createHash('sha256').update(bytes).digest('hex'), bytes }; };
const run = (src, timeoutMs = 2000) => sb.run({ agent: 'b', version: '1.0.0', bundle: ref(src), kind: 'cycle', cycle: 1, state: { n: 1 }, timeoutMs });
const manifest = await sb.inspect(ref('export default { cycleSeconds: 3, runCycle() {} };'));
const results = [];
results.push(await run("export default { runCycle(ctx) { ctx.state.set('n', ctx.state.get('n') + 1); } };"));
results.push(await run("export default { runCycle() { throw new Error('x'); } };"));
results.push(await run('export default { runCycle() { process.exit(1); } };'));
results.push(await run('export default { async runCycle() { await new Promise(() => {}); } };', 200));
console.log(JSON.stringify({ manifest, results: results.map((r) => [r.outcome, r.stateChanges]) }));
`,
    );
    const stdout = execFileSync(process.execPath, [script], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
      manifest: { cycleSeconds: 3, timeoutSeconds: 30, subscriptions: [], hasOnEnvelope: false },
      results: [
        ['ok', { n: 2 }],
        ['error', {}],
        ['crashed', {}],
        ['timeout', {}],
      ],
    });
  });
});
