/**
 * The runner Lambda's deployment bundle: size and module init time.
 *
 * The bundle is built the way the CDK stack builds it (infra/constructs/function.ts, NodejsFunction
 * with local esbuild): functions/runner/handler.ts, ESM, minified, no source map, target = the
 * Lambda runtime's node (node24), mainFields module/main, the createRequire banner, and the AWS
 * SDK v3 left external (the Lambda runtime provides it). Init time is a cold `import()` of the
 * bundle in a fresh node process (what a Lambda cold start pays for loading the code before the
 * first invocation; the handler creates its clients lazily on the first event), median of several
 * processes. The external AWS SDK packages the bundle imports are loaded from node_modules here,
 * as the runtime loads its own copy; their share is measured alone, in fresh processes too.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { BenchResult } from './types';
import { median } from './stats';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** the banner of infra/constructs/function.ts (ESM output meeting CommonJS dependencies) */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __orchestratorCreateRequire } from 'node:module'; const require = __orchestratorCreateRequire(import.meta.url);";
const PROCESSES = 9;

const IMPORT_TIMER = `
const specs = JSON.parse(process.argv[1]);
const t0 = performance.now();
for (const s of specs) await import(s);
process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));
`;

function importMs(specs: string[]): Promise<number> {
  return new Promise((res, rej) => {
    // run from the repository so that the external @aws-sdk/* resolve from its node_modules
    const child = spawn(process.execPath, ['--input-type=module', '-e', IMPORT_TIMER, JSON.stringify(specs)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('close', (code) =>
      code === 0 ? res((JSON.parse(out) as { ms: number }).ms) : rej(new Error(`import failed (${code}): ${err.slice(0, 500)}`)),
    );
  });
}

/** one run: the figures are already medians over several processes inside it (bench/run.ts) */
export const repeat = 1;

export async function run(): Promise<BenchResult[]> {
  // inside the repository (node_modules/.cache), so the bundle's external imports resolve
  const cache = join(REPO, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'bench-runner-'));
  try {
    const outfile = join(dir, 'index.mjs');
    const t0 = performance.now();
    const result = await build({
      entryPoints: [join(REPO, 'functions', 'runner', 'handler.ts')],
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      minify: true,
      sourcemap: false,
      mainFields: ['module', 'main'],
      banner: { js: ESM_REQUIRE_BANNER },
      external: ['@aws-sdk/*'],
      tsconfig: join(REPO, 'tsconfig.json'),
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
    const buildMs = performance.now() - t0;
    const bytes = statSync(outfile).size;
    const gz = gzipSync(readFileSync(outfile), { level: 9 }).length;
    // bytes of the output per package (metafile inputs under node_modules/<pkg>), largest first
    const byPackage = new Map<string, number>();
    for (const o of Object.values(result.metafile.outputs))
      for (const [input, x] of Object.entries(o.inputs)) {
        const j = input.indexOf('node_modules/');
        const parts = j >= 0 ? input.slice(j + 'node_modules/'.length).split('/') : [];
        const pkg = j >= 0 ? parts.slice(0, parts[0]?.startsWith('@') ? 2 : 1).join('/') : 'orchestrator code';
        byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + x.bytesInOutput);
      }
    const breakdown = [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${Math.round((100 * v) / bytes)} %`)
      .join(', ');
    const external = [
      ...new Set(
        Object.values(result.metafile.outputs).flatMap((o) =>
          o.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path),
        ),
      ),
    ].sort();
    const url = pathToFileURL(outfile).href;
    // alternate the two measurements so that machine noise hits both alike
    const bundle: number[] = [];
    const sdk: number[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      bundle.push(await importMs([url]));
      sdk.push(await importMs(external));
    }
    const r1 = (x: number) => Number(x.toFixed(1));
    const note = `median of ${PROCESSES} fresh node ${process.version} processes (min ${r1(Math.min(...bundle))}, max ${r1(Math.max(...bundle))})`;
    return [
      {
        name: 'runner bundle size (esbuild as the CDK stack, minified ESM, AWS SDK external)',
        value: r1(bytes / 1024),
        unit: 'KiB',
        note: `${r1(gz / 1024)} KiB gzipped; built in ${Math.round(buildMs)} ms; by package: ${breakdown}; external: ${external.join(', ')}`,
      },
      { name: 'runner bundle module init (cold import, AWS SDK included)', value: r1(median(bundle)), unit: 'ms', note },
      {
        name: 'of which the external AWS SDK packages alone',
        value: r1(median(sdk)),
        unit: 'ms',
        note: `median of ${PROCESSES} fresh processes importing ${external.length} packages`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
