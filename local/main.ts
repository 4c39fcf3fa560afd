/**
 * `npm start`: local mode. Starts the whole orchestrator on this machine (see local/host.ts),
 * publishes the example agents on the first start, prints where everything is, and runs until
 * SIGINT/SIGTERM, which shut it down cleanly (exit code 0).
 *
 * Local mode always says why it ends: every way out (a signal, an uncaught exception, an
 * unhandled rejection, DynamoDB Local dying under it, a fatal out-of-memory, a plain exit) writes
 * one `local mode exiting` log line before the process goes, to stderr and appended to
 * `<data dir>/exit.log` (which survives a closed terminal or pipe). V8's own fatal errors (heap
 * out of memory) cannot run JavaScript: V8 prints its line to stderr and Node writes a diagnostic
 * report (`<data dir>/report.*.json`). Only SIGKILL leaves no line (nothing can catch it).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { createLogger } from '../shared/core/logger';
import { errorMessage } from '../shared/core/errors';
import { LocalOrchestrator } from './host';

const LocalEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  AGENT_DATA_DIR: z.string().min(1).default('./.agent-data'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

/** Signals whose default action ends the process: each is logged and shuts down cleanly. */
const ENDING_SIGNALS: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR2',
  'SIGALRM',
  'SIGXCPU',
  'SIGVTALRM',
  'SIGPROF',
];
/** a clean shutdown after a fatal error gets this long before the process exits anyway */
const FATAL_SHUTDOWN_MS = 10_000;
/** the heap share at which a warning is logged (once per crossing) */
const HEAP_WARN_RATIO = 0.85;

async function main(): Promise<number> {
  // The SDK warns once per process that its 2027 releases need node 22; local mode pins its SDK
  // version in package-lock.json, so on node 20 the warning is noise here (README: requirements).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = LocalEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`invalid environment: ${z.prettifyError(parsed.error)}\n`);
    return 2;
  }
  const env = parsed.data;
  const dataDir = resolve(env.AGENT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const log = createLogger({ service: 'local', level: env.LOG_LEVEL });
  const say = (s: string) => writeSafely(process.stdout, s + '\n');
  // a reader that went away (closed pipe) must not take local mode down with EPIPE
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

  // ---- why it ends: one line, whatever the way out ----------------------------------------
  let exitSaid = false;
  const sayExit = (reason: string, fields: Record<string, unknown> = {}) => {
    if (exitSaid) return;
    exitSaid = true;
    const line = JSON.stringify({
      level: 'warn',
      ts: new Date().toISOString(),
      msg: 'local mode exiting',
      service: 'local',
      reason,
      pid: process.pid,
      ppid: process.ppid,
      ...fields,
    });
    writeSafely(process.stderr, line + '\n');
    try {
      appendFileSync(join(dataDir, 'exit.log'), line + '\n');
    } catch {
      // the data dir is gone or read-only: stderr has the line
    }
  };
  process.on('exit', (code) => sayExit(code === 0 ? 'exit' : 'exit with an error', { code }));
  process.report.directory = dataDir;
  process.report.reportOnFatalError = true;

  let host: LocalOrchestrator | undefined;
  let stopping: Promise<void> | null = null;
  const shutdown = (code: number) => {
    if (stopping) return;
    stopping = (host ? host.stop() : Promise.resolve()).then(
      () => {
        if (code === 0) say('Stopped cleanly.');
        process.exit(code);
      },
      (e: unknown) => {
        log.error('shutdown failed', { error: e });
        process.exit(1);
      },
    );
  };
  const fatal = (reason: string, fields: Record<string, unknown>) => {
    sayExit(reason, fields);
    // try to stop cleanly (the emulators must not outlive us), but never hang on it
    setTimeout(() => process.exit(1), FATAL_SHUTDOWN_MS).unref();
    shutdown(1);
  };
  for (const signal of ENDING_SIGNALS)
    process.on(signal, () => {
      // Node does not expose the sender of a signal (siginfo's si_pid); the parent pid is the best hint
      sayExit(`signal ${signal}`, { signal, sender: 'not reported by Node (see ppid)' });
      if (!stopping) say(`\n${signal}: shutting down …`);
      shutdown(0);
    });
  process.on('uncaughtException', (e, origin) =>
    fatal(origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception', { error: errorFields(e) }),
  );
  process.on('unhandledRejection', (e) => fatal('unhandled rejection', { error: errorFields(e) }));
  let heapWarned = false;
  setInterval(() => {
    const h = getHeapStatistics();
    const ratio = h.used_heap_size / h.heap_size_limit;
    if (ratio > HEAP_WARN_RATIO && !heapWarned)
      log.warn('heap nearly full: local mode may soon die of out-of-memory', {
        usedBytes: h.used_heap_size,
        limitBytes: h.heap_size_limit,
      });
    heapWarned = ratio > HEAP_WARN_RATIO;
  }, 2000).unref();

  say(`Starting local mode (data in ${dataDir}) …`);
  try {
    host = await LocalOrchestrator.start({
      dataDir,
      port: env.PORT,
      logger: log,
      onEmulatorDied: (info) => fatal(`${info.emulator} emulator died`, { code: info.code, signal: info.signal }),
    });
  } catch (e) {
    sayExit('start failed', { error: errorFields(e) });
    process.stderr.write(`local mode failed to start: ${errorMessage(e)}\n`);
    return 1;
  }

  const published = await host.publishExamples();
  host.writeEndpoints();
  const url = host.apiUrl.replace(/\/$/, '');
  say('');
  say('Orchestrator running (local mode).');
  say(`  API:        ${url}/   (e.g. curl -H "Authorization: Bearer $(cat ${host.dev.tokenFile})" ${url}/agents)`);
  say(
    `  gRPC:       ${url.replace(/^http:\/\//, '')} (h2c, same token as authorization metadata; Connect and gRPC-Web on the API URL; schema in proto/)`,
  );
  say(`  Dashboard:  ${url}/`);
  say(`  API token:  ${host.dev.tokenFile}`);
  say(`  Dev key:    ${host.dev.keyFile} (trusted; sign with: npx agentctl publish FILE --name N --version V --key ${host.dev.keyFile})`);
  say(`  Data:       ${dataDir}`);
  if (published.length) say(`  Published example agents: ${published.join(', ')}`);
  say('Press Ctrl-C to stop.');
  return new Promise<number>(() => undefined);
}

function writeSafely(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // a closed stream: the exit log still has the line
  }
}

function errorFields(e: unknown): Record<string, unknown> {
  return e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { message: String(e) };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`local mode crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
