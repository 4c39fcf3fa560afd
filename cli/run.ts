/**
 * `agentctl run FILE [--state JSON] [--envelope JSON] [--cycles N] [--name N] [--json]`: runs an
 * agent on this machine in the real `process` runtime (the one local mode uses: an isolated agent
 * process, the same kernel, limits and checks), with no server, no AWS and no database. Prints
 * the agent's log lines, the envelopes it published, its state changes and each run's outcome.
 *
 * The bundle is loaded and its manifest checked as the manager would (a bundle that is not an
 * agent exits 1 with the reason); then the envelope (if any) is delivered to onEnvelope, then the
 * cycles run, each with the state the runs before it left. A failed run has no effects (as in the
 * orchestrator: its state changes and envelopes are discarded) and ends the command with exit 1,
 * its error and stack printed. `.ts`/`.mts`/`.tsx` files are built first (cli/build.ts) and
 * their stack frames mapped back to the source.
 */
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, extname, isAbsolute, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AGENT_NAME_RE, isReservedName } from '../shared/core/bundle/identity';
import { EnvelopeSchema, envelopeSize, MAX_ENVELOPE_BYTES, type Envelope } from '../shared/core/envelope';
import { MAX_STATE_BYTES, STATE_KEY_RE } from '../shared/core/heartbeat';
import { createLogger } from '../shared/core/logger';
import type { SandboxResult } from '../shared/core/ports';
import type { BundleManifest } from '../shared/core/registry';
import { InvalidManifestError } from '../shared/adapters/node/errors';
import { ProcessSandbox } from '../shared/adapters/node/process-sandbox';
import { bundleAgent } from './build';
import { OperationError, UsageError } from './errors';
import type { Io } from './agentctl';

const TS_EXT = new Set(['.ts', '.mts', '.cts', '.tsx']);
const JS_EXT = new Set(['.mjs', '.js']);
const VERSION = '0.0.0-local';
const MAX_CYCLES = 1000;

/** One line of `--json` output. */
export type RunEvent =
  | { type: 'agent'; name: string; file: string; version: string; runtime: 'process'; isolation: string; manifest: BundleManifest }
  | { type: 'log'; run: number; level: string; msg: string; fields?: unknown; stream?: string }
  | { type: 'publish'; run: number; topic: string; payload: Record<string, unknown>; recipient?: string }
  | { type: 'state'; run: number; key: string; value?: unknown; deleted?: true }
  | {
      type: 'outcome';
      run: number;
      kind: 'cycle' | 'envelope';
      outcome: string;
      error: string | null;
      stack: string | null;
      durationMs: number;
    }
  | { type: 'end'; ok: boolean; runs: number; state: Record<string, unknown> };

function jsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag} is not JSON: ${(e as Error).message}`);
  }
}

function parseState(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  const r = z.record(z.string(), z.unknown()).safeParse(jsonFlag('--state', text));
  if (!r.success) throw new UsageError('--state must be a JSON object: {"key":value,…}');
  const bad = Object.keys(r.data).find((k) => !STATE_KEY_RE.test(k));
  if (bad !== undefined)
    throw new UsageError(`--state: the key ${JSON.stringify(bad)} does not match the state key rule ${STATE_KEY_RE.source}`);
  const bytes = Object.entries(r.data).reduce((n, [k, v]) => n + k.length + (JSON.stringify(v)?.length ?? 0), 0);
  if (bytes > MAX_STATE_BYTES) throw new UsageError(`--state is ${bytes} bytes, over the state limit of ${MAX_STATE_BYTES}`);
  return r.data;
}

function parseEnvelopeFlag(text: string | undefined, agent: string): Envelope | null {
  if (text === undefined) return null;
  const raw = jsonFlag('--envelope', text);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new UsageError('--envelope must be a JSON object: {"topic":"…","payload":{…}}');
  const r = EnvelopeSchema.safeParse({ id: randomUUID(), sender: 'api', ts: new Date().toISOString(), payload: {}, ...raw });
  if (!r.success) throw new UsageError(`--envelope is not an envelope for ${agent}: ${z.prettifyError(r.error)}`);
  const size = envelopeSize(r.data);
  if (size > MAX_ENVELOPE_BYTES) throw new UsageError(`--envelope is ${size} bytes, over the limit of ${MAX_ENVELOPE_BYTES}`);
  return r.data;
}

const validName = (n: unknown): n is string => typeof n === 'string' && AGENT_NAME_RE.test(n) && !isReservedName(n);

/**
 * ctx.agent without --name: the file's base name (`hello.mjs`: hello); for a generic one
 * (`src/agent.ts`, index, main) the name in ./package.json, if it is a valid agent name.
 */
function defaultName(file: string): string {
  const base = basename(file, extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (['agent', 'index', 'main'].includes(base)) {
    try {
      const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name?: unknown };
      if (validName(pkg.name)) return pkg.name;
    } catch {
      // no package.json here, or not JSON: the file's name it is
    }
  }
  return validName(base) ? base : 'local-agent';
}

/** Rewrites the bundle's frames (`KEY:LINE:COL`) to the TypeScript source's, through the source map. */
function stackMapper(key: string, mapText: string | null): (stack: string) => string {
  if (!mapText) return (s) => s;
  const map = new SourceMap(JSON.parse(mapText) as ConstructorParameters<typeof SourceMap>[0]);
  const re = new RegExp(`${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`, 'g');
  return (stack) =>
    stack.replace(re, (whole, line: string, col: string) => {
      const e = map.findEntry(Number(line) - 1, Number(col) - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (!e.originalSource || e.originalLine === undefined || e.originalColumn === undefined) return whole;
      const src = e.originalSource.startsWith('file://') ? new URL(e.originalSource).pathname : e.originalSource;
      return `${isAbsolute(src) ? relative(process.cwd(), src) : src}:${e.originalLine + 1}:${e.originalColumn + 1}`;
    });
}

const compact = (v: unknown): string => {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
};

/**
 * Why a bundle failed to load, with what the runtime's message leaves out: a syntax error's
 * file:line:col (found again by esbuild's parser, on this side: no agent code runs here), and
 * for an import of a package the bundle does not contain, how to bundle it.
 */
async function explainLoadFailure(message: string, file: string, bytes: Uint8Array): Promise<string> {
  const pkg = /Failed to resolve module specifier "([^"]+)"/.exec(message)?.[1];
  if (pkg)
    return `it imports "${pkg}", which is not in the bundle: a bundle is one self-contained ES module; bundle its dependencies with agentctl build ${file} --out FILE`;
  if (!/SyntaxError/.test(message)) return message;
  try {
    const { transform } = await import('esbuild');
    await transform(Buffer.from(bytes).toString('utf8'), { loader: 'js', format: 'esm', sourcefile: file, logLevel: 'silent' });
  } catch (e) {
    const first = (e as { errors?: { text: string; location?: { file: string; line: number; column: number; lineText: string } | null }[] })
      .errors?.[0];
    if (first?.location) {
      const l = first.location;
      return `${message}\n${l.file}:${l.line}:${l.column + 1}: ${first.text}\n    ${l.lineText.trimEnd()}`;
    }
  }
  return message;
}

/** The stack's frames in the agent's code: the runtime's own (`[eval]`, `node:internal`) left out. */
function agentFrames(stack: string): string[] {
  return stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && !l.includes('[eval]') && !l.includes('(node:') && !l.startsWith('at node:'));
}

/** Human-readable output: one section per run. */
function humanPrinter(write: (s: string) => void): (e: RunEvent) => void {
  return (e) => {
    const w = (s: string) => write(`${s}\n`);
    switch (e.type) {
      case 'agent': {
        const m = e.manifest;
        w(`agent ${e.name} ${e.version} from ${e.file} (process runtime, isolation ${e.isolation})`);
        w(
          `  cycleSeconds ${m.cycleSeconds}, timeoutSeconds ${m.timeoutSeconds}, subscriptions ${m.subscriptions.length ? m.subscriptions.join(' ') : 'none'}, onEnvelope ${m.hasOnEnvelope ? 'yes' : 'no'}`,
        );
        return;
      }
      case 'log':
        w(`  ${e.stream ?? 'log'} ${e.level.padEnd(5)} ${e.msg}${e.fields !== undefined ? ` ${compact(e.fields)}` : ''}`);
        return;
      case 'publish':
        w(`  publish ${e.topic}${e.recipient ? ` -> ${e.recipient}` : ''} ${compact(e.payload)}`);
        return;
      case 'state':
        w(`  state   ${e.key}${e.deleted ? ' deleted' : ` = ${compact(e.value)}`}`);
        return;
      case 'outcome':
        if (e.outcome === 'ok') w(`  ok in ${e.durationMs} ms`);
        else {
          w(`  ${e.outcome.toUpperCase()} after ${e.durationMs} ms: ${e.error ?? ''}`);
          if (e.stack) for (const l of agentFrames(e.stack)) w(`    ${l}`);
          w('  (a failed run has no effects: its state changes and envelopes are discarded)');
        }
        return;
      case 'end':
        w(`${e.ok ? 'ok' : 'FAILED'}: ${e.runs} run${e.runs === 1 ? '' : 's'}; state ${compact(e.state)}`);
    }
  };
}

export async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      envelope: { type: 'string' },
      cycles: { type: 'string' },
      name: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError('run: expected exactly one FILE (.mjs, .js or .ts)');
  const ext = extname(file);
  if (!TS_EXT.has(ext) && !JS_EXT.has(ext)) throw new UsageError(`run: FILE must be .mjs, .js or .ts, got ${file}`);
  const name = values.name ?? defaultName(file);
  if (!AGENT_NAME_RE.test(name) || isReservedName(name))
    throw new UsageError('--name must match [a-z0-9][a-z0-9-]{1,62} and not be orchestrator, api or kafka');
  const envelope = parseEnvelopeFlag(values.envelope, name);
  let cycles = envelope ? 0 : 1;
  if (values.cycles !== undefined) {
    if (!/^\d+$/.test(values.cycles) || Number(values.cycles) > MAX_CYCLES)
      throw new UsageError(`--cycles must be a whole number from 0 to ${MAX_CYCLES}`);
    cycles = Number(values.cycles);
  }
  let state = parseState(values.state);
  if (!existsSync(file) || !statSync(file).isFile()) throw new OperationError(`no such file: ${file}`);

  // the bundle: the file's bytes, or the TypeScript built in memory (with a map for its stacks)
  let bytes: Uint8Array;
  let mapStack = (s: string) => s;
  const key = TS_EXT.has(ext) ? `${file.replace(/\.[^.]+$/, '')}.bundle.mjs` : file;
  if (TS_EXT.has(ext)) {
    const built = await bundleAgent(file, { sourceMap: true });
    for (const w of built.warnings) io.stderr.write(`warning: ${w}\n`);
    bytes = built.bytes;
    mapStack = stackMapper(key, built.sourceMap);
  } else bytes = new Uint8Array(readFileSync(file));
  const bundle = { key, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };

  // once stopping (Ctrl-C, the reader of stdout gone), nothing more is written
  let stopping = false;
  const write = (s: string) => {
    if (!stopping) io.stdout.write(s);
  };
  const emit = values.json ? (e: RunEvent) => write(`${JSON.stringify(e)}\n`) : humanPrinter(write);
  let current = 0;
  // ctx.log lines and what the agent prints arrive here as the runtime logs them (tagged with
  // `agent`); the runtime's own lines (isolation notices) and the manifest check's are not the run's
  const logger = createLogger({
    level: 'debug',
    sink: (line) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      // the runtime's own warnings (no OS isolation on this host) are the user's to know
      if (r.agent === undefined && (r.level === 'warn' || r.level === 'error')) io.stderr.write(`agentctl run: ${String(r.msg)}\n`);
      if (r.agent !== name || current === 0) return;
      emit({
        type: 'log',
        run: current,
        level: String(r.level),
        msg: String(r.msg),
        ...(r.fields !== undefined ? { fields: r.fields } : {}),
        ...(typeof r.stream === 'string' ? { stream: r.stream } : {}),
      });
    },
  });
  const workDir = mkdtempSync(join(tmpdir(), 'agentctl-run-'));
  chmodSync(workDir, 0o711);
  const sandbox = new ProcessSandbox({ workDir, maxProcesses: 1, logger });
  // agent processes run in process groups of their own: Ctrl-C ends them too, not only agentctl
  const interrupted = (signal: NodeJS.Signals) => {
    stopping = true;
    void sandbox.close().finally(() => {
      rmSync(workDir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGPIPE' ? 141 : 143);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  // the reader went away (`agentctl run … | head`): stop the same way (kept to the end: the
  // error can come after the last write)
  const stdout = io.stdout as Partial<Pick<NodeJS.WriteStream, 'on' | 'off'>>;
  const pipeGone = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') interrupted('SIGPIPE');
  };
  stdout.on?.('error', pipeGone);
  try {
    let manifest: BundleManifest;
    try {
      manifest = await sandbox.inspect(bundle);
    } catch (e) {
      if (e instanceof InvalidManifestError)
        throw new OperationError(`${file} is not an agent bundle: ${await explainLoadFailure(e.message, file, bytes)}`);
      throw new OperationError(`${file} could not be loaded: ${(e as Error).message}`);
    }
    emit({ type: 'agent', name, file, version: VERSION, runtime: 'process', isolation: sandbox.isolation.kind, manifest });
    const runs: { kind: 'cycle' | 'envelope' }[] = [
      ...(envelope ? [{ kind: 'envelope' as const }] : []),
      ...Array.from({ length: cycles }, () => ({ kind: 'cycle' as const })),
    ];
    let ok = true;
    for (const r of runs) {
      if (stopping) break;
      current++;
      if (!values.json)
        write(
          r.kind === 'envelope' && envelope
            ? `run ${current}: onEnvelope ${envelope.topic} from ${envelope.sender}\n`
            : `run ${current}: runCycle\n`,
        );
      const result: SandboxResult | null = await sandbox
        .run({
          agent: name,
          version: VERSION,
          generation: 0,
          bundle,
          kind: r.kind,
          cycle: current,
          ...(r.kind === 'envelope' && envelope ? { envelope } : {}),
          state,
          timeoutMs: Math.round(manifest.timeoutSeconds * 1000),
        })
        .catch((e: unknown) => {
          // the runtime closed under the run: agentctl is being stopped
          if (stopping) return null;
          throw e;
        });
      if (!result) break;
      if (result.outcome === 'ok') {
        for (const p of result.published) emit({ type: 'publish', run: current, ...p });
        for (const [k, v] of Object.entries(result.stateChanges))
          emit(
            v === undefined ? { type: 'state', run: current, key: k, deleted: true } : { type: 'state', run: current, key: k, value: v },
          );
        state = { ...state, ...result.stateChanges };
        for (const [k, v] of Object.entries(state)) if (v === undefined) delete state[k];
      }
      emit({
        type: 'outcome',
        run: current,
        kind: r.kind,
        outcome: result.outcome,
        error: result.error,
        stack: result.stack ? mapStack(result.stack) : null,
        durationMs: result.durationMs,
      });
      if (result.outcome !== 'ok') {
        ok = false;
        break;
      }
    }
    emit({ type: 'end', ok, runs: current, state });
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await sandbox.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
