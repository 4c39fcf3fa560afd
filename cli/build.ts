/**
 * `agentctl build SRC --out FILE`: bundles an agent written in TypeScript or JavaScript, with its
 * npm dependencies, into the one self-contained ES module the contract asks for (esbuild:
 * platform node, target node24). `agent-orchestrator/agent` (sdk/) always resolves to this
 * checkout's copy, so a project builds even before `npm install` linked it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BuildFailure, Message, Plugin } from 'esbuild';
import { OperationError, UsageError } from './errors';
import type { Io } from './agentctl';

/** The runtime half of `agent-orchestrator/agent` (tiny, imports nothing). */
export const SDK_RUNTIME = fileURLToPath(new URL('../sdk/agent.mjs', import.meta.url));

/**
 * CommonJS dependencies that `require()` a Node builtin need a `require` in an ES module; the
 * bundle is imported from memory (no file URL), so it is made from an absolute path.
 */
const REQUIRE_BANNER =
  "import { createRequire as __agentctlCreateRequire } from 'node:module'; const require = __agentctlCreateRequire('/');";

export interface BuiltAgent {
  /** the ES module */
  bytes: Uint8Array;
  /** its source map (JSON text), when asked for */
  sourceMap: string | null;
  warnings: string[];
}

const sdkPlugin: Plugin = {
  name: 'agent-orchestrator-sdk',
  setup(b) {
    b.onResolve({ filter: /^agent-orchestrator\/agent$/ }, () => ({ path: SDK_RUNTIME }));
  },
};

/** `file:line:col: text`, the source line, and a hint where we have a better one than esbuild's. */
function formatMessage(m: Message): string {
  const loc = m.location;
  const head = loc ? `${loc.file}:${loc.line}:${loc.column + 1}: ${m.text}` : m.text;
  const lines = [head];
  if (loc?.lineText) lines.push(`    ${loc.lineText.trimEnd()}`);
  const missing = /^Could not resolve "([^"]+)"/.exec(m.text)?.[1];
  if (missing && !missing.startsWith('.') && !missing.startsWith('/')) {
    const pkg = missing.startsWith('@') ? missing.split('/').slice(0, 2).join('/') : (missing.split('/')[0] ?? missing);
    lines.push(`  the package ${pkg} is not installed where ${loc?.file ?? 'the source'} can find it: npm install ${pkg}`);
  } else {
    for (const n of m.notes) if (n.text) lines.push(`  ${n.text}`);
  }
  return lines.join('\n');
}

/** Bundles `src` in memory; throws an OperationError that names every error with its file:line:col. */
export async function bundleAgent(src: string, opts: { sourceMap?: boolean } = {}): Promise<BuiltAgent> {
  if (!existsSync(src)) throw new OperationError(`no such file: ${src}`);
  if (!statSync(src).isFile()) throw new OperationError(`not a file: ${src}`);
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new OperationError('agentctl build needs esbuild (a dependency of agent-orchestrator): run npm ci in its checkout');
  }
  const outfile = resolve('agent.mjs');
  let result: Awaited<ReturnType<typeof esbuild.build>>;
  try {
    result = await esbuild.build({
      entryPoints: [src],
      absWorkingDir: process.cwd(),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      outfile,
      write: false,
      metafile: true,
      sourcemap: opts.sourceMap ? 'external' : false,
      banner: { js: REQUIRE_BANNER },
      plugins: [sdkPlugin],
      logLevel: 'silent',
    });
  } catch (e) {
    const f = e as Partial<BuildFailure>;
    if (!Array.isArray(f.errors)) throw new OperationError(`build failed: ${(e as Error).message}`);
    const n = f.errors.length;
    throw new OperationError(`build of ${src} failed with ${n} error${n === 1 ? '' : 's'}:\n${f.errors.map(formatMessage).join('\n')}`);
  }
  const outputs = result.outputFiles ?? [];
  const js = outputs.find((f) => f.path === outfile);
  if (!js) throw new OperationError(`build of ${src} produced no output`);
  const exports = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint !== undefined)?.exports ?? [];
  if (!exports.includes('default'))
    throw new OperationError(
      `${src} has no default export: an agent bundle's default export is the agent (export default defineAgent({ runCycle(ctx) {…} }))`,
    );
  const map = outputs.find((f) => f.path === `${outfile}.map`);
  return { bytes: js.contents, sourceMap: map ? map.text : null, warnings: result.warnings.map(formatMessage) };
}

export async function build(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } });
  const src = positionals[0];
  if (!src || positionals.length > 1) throw new UsageError('build: expected exactly one SRC file');
  if (!values.out) throw new UsageError('build: --out FILE is required');
  if (!/\.m?js$/.test(values.out)) throw new UsageError('build: --out must name a .mjs or .js file');
  const built = await bundleAgent(src);
  for (const w of built.warnings) io.stderr.write(`warning: ${w}\n`);
  mkdirSync(dirname(resolve(values.out)), { recursive: true });
  writeFileSync(values.out, built.bytes);
  const sha = createHash('sha256').update(built.bytes).digest('hex');
  io.stdout.write(`built ${relative(process.cwd(), resolve(values.out)) || values.out} (${built.bytes.length} bytes, sha256 ${sha})\n`);
  return 0;
}
