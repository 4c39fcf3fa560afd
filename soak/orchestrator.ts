/**
 * The orchestrator under soak: local mode (LocalOrchestrator, the same host `npm start` runs) in
 * its own process, started by soak/driver.ts with an IPC channel. The driver watches this process
 * from outside: if it exits before the driver asks it to stop, the soak fails.
 *
 * What this process adds to plain local mode is observation and fault injection, through the
 * hooks LocalOrchestrator offers for it:
 * - every run report (`onRun`) and every envelope put on the bus (`bus.subscribe`) is forwarded
 *   to the driver in batches;
 * - commands from the driver: restart DynamoDB Local or s3rver (`restartDynamo`, `restartS3`),
 *   hand items to the runner pool again (duplicate deliveries), copy items still waiting in the
 *   pool, re-publish envelopes with their ids, drain, stats, stop.
 *
 * Started as `node --import tsx soak/orchestrator.ts` with the options as JSON in argv[2].
 */
import { z } from 'zod';
import { LocalOrchestrator } from '../local/host';
import { createLogger, type LogLevel } from '../shared/core/logger';
import { errorMessage } from '../shared/core/errors';
import type { DispatchItem } from '../shared/core/dispatch';
import type { RunReport } from '../shared/core/runner/service';
import {
  ChildStatsSchema,
  DriverMessageSchema,
  type ChildMessage,
  type ChildStats,
  type Command,
  type ObservedEvent,
  type ObservedRun,
} from './protocol';
import { SoakConfigError, SoakOrchestratorError } from './errors';

export const ChildOptionsSchema = z.object({
  dataDir: z.string().min(1),
  env: z.record(z.string(), z.string()),
  runnerConcurrency: z.number().int().min(1).max(256),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']),
  /** observation batches per second */
  flushEveryMs: z.number().int().min(10).default(250),
});
export type ChildOptions = z.input<typeof ChildOptionsSchema>;

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new SoakOrchestratorError('no IPC channel: start this file from soak/driver.ts'));
    process.send(msg, undefined, undefined, (e) => (e ? reject(e) : resolve()));
  });
}

async function main(): Promise<void> {
  let opts: z.infer<typeof ChildOptionsSchema>;
  try {
    opts = ChildOptionsSchema.parse(JSON.parse(process.argv[2] ?? ''));
  } catch (e) {
    throw new SoakConfigError(`soak orchestrator options (argv[2], JSON): ${errorMessage(e)}`);
  }
  const log = createLogger({ service: 'soak-orchestrator', level: opts.logLevel as LogLevel });

  const runs: ObservedRun[] = [];
  const events: ObservedEvent[] = [];
  const onRun = (r: RunReport) => {
    runs.push(
      r.status === 'ran'
        ? {
            at: Date.now(),
            status: 'ran',
            agent: r.agent,
            runId: r.runId,
            kind: r.kind,
            cycle: r.cycle,
            outcome: r.outcome,
            durationMs: r.durationMs,
            published: r.published,
            ...(r.publishError ? { publishError: r.publishError } : {}),
          }
        : { at: Date.now(), status: 'skipped', agent: r.agent, runId: r.runId, kind: r.kind, reason: r.reason },
    );
  };
  const host = await LocalOrchestrator.start({
    dataDir: opts.dataDir,
    port: 0,
    env: opts.env,
    logger: log,
    runnerConcurrency: opts.runnerConcurrency,
    onRun,
  });
  host.bus.subscribe((e) => events.push({ at: Date.now(), envelope: e.detail }));

  const flush = async () => {
    if (runs.length === 0 && events.length === 0) return;
    await send({ t: 'obs', runs: runs.splice(0), events: events.splice(0) });
  };
  const flusher = setInterval(
    () => void flush().catch((e: unknown) => log.error('sending observations failed', { error: e })),
    opts.flushEveryMs,
  );

  const stats = (): ChildStats => {
    const b = host.bus.stats();
    const p = host.pool.stats();
    const mem = process.memoryUsage();
    return ChildStatsSchema.parse({
      bus: { published: b.published, delivered: b.delivered, failed: b.failed, retried: b.retried, dropped: b.dropped, queued: b.queued },
      busDeadLetters: host.bus.deadLetters.map((d) => ({ rule: d.rule, target: d.target, eventId: d.eventId, error: d.error })),
      pool: {
        pending: p.pending,
        inFlight: p.inFlight,
        started: p.started,
        ran: p.ran,
        skipped: p.skipped,
        errors: p.errors,
        deadLetters: p.deadLetters,
      },
      poolDeadLetters: host.pool.deadLetters.map((d) => ({
        agent: d.message.agent,
        runId: d.message.runId,
        kind: d.message.kind,
        error: d.error,
      })),
      timers: host.timers.stats().map((t) => ({ id: t.id, fired: t.fired, failed: t.failed })),
      memory: { rssMb: Math.round(mem.rss / 2 ** 20), heapUsedMb: Math.round(mem.heapUsed / 2 ** 20) },
    });
  };

  const drain = async (timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    // the pool's idle() ignores items not yet due: wait until nothing waits at all, then until the
    // bus and the pool are idle together, twice in a row with nothing new published
    for (;;) {
      const before = host.bus.stats().published;
      await host.idle();
      const p = host.pool.stats();
      if (p.pending === 0 && p.inFlight === 0 && host.bus.stats().published === before) {
        await new Promise((r) => setTimeout(r, 200));
        await host.idle();
        const p2 = host.pool.stats();
        if (p2.pending === 0 && p2.inFlight === 0 && host.bus.stats().published === before) return stats();
      }
      if (Date.now() > until)
        throw new SoakOrchestratorError(`not drained after ${timeoutMs} ms`, { pool: p, queued: host.bus.stats().queued });
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const timed = async (fn: () => Promise<void>) => {
    const t0 = Date.now();
    await fn();
    return { from: t0, to: Date.now() };
  };

  const execute = async (cmd: Command): Promise<unknown> => {
    switch (cmd.op) {
      case 'restartDynamo':
        return timed(() => host.restartDynamo(cmd.downMs));
      case 'restartS3':
        return timed(() => host.restartS3(cmd.downMs));
      case 'dispatch':
        await host.pool.dispatch(cmd.items);
        return { dispatched: cmd.items.length };
      case 'duplicatePending': {
        const allowed = new Set(cmd.agents);
        const now = Date.now();
        const copies: DispatchItem[] = host.pool
          .waiting()
          // still some time before they start, so that both copies are in the pool together
          .filter((i) => i.message.kind === 'cycle' && allowed.has(i.message.agent) && i.notBefore > now + 100)
          .slice(0, cmd.max)
          .map((i) => ({ message: structuredClone(i.message), notBefore: i.notBefore }));
        await host.pool.dispatch(copies);
        return { runIds: copies.map((c) => c.message.runId) };
      }
      case 'publish':
        await host.bus.publish(cmd.envelopes);
        return { published: cmd.envelopes.length };
      case 'drain':
        return drain(cmd.timeoutMs);
      case 'stats':
        return stats();
      case 'flush':
        await flush();
        return {};
      case 'stop':
        clearInterval(flusher);
        await host.stop();
        await flush();
        return {};
    }
  };

  process.on('message', (raw: unknown) => {
    const m = DriverMessageSchema.safeParse(raw);
    if (!m.success) {
      log.error('invalid message from the soak driver; ignored', { error: m.error.message });
      return;
    }
    const { id, cmd } = m.data;
    execute(cmd).then(
      async (result) => {
        await send({ t: 'reply', id, ok: true, result });
        if (cmd.op === 'stop') process.exit(0);
      },
      (e: unknown) => send({ t: 'reply', id, ok: false, error: errorMessage(e) }),
    );
  });

  // a signal (the driver interrupted, Ctrl-C): shut down like `npm start` does, so DynamoDB Local
  // (a Java child of this process) does not outlive it
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(flusher);
    host.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await send({
    t: 'ready',
    pid: process.pid,
    apiUrl: host.apiUrl,
    s3Endpoint: host.s3.endpoint,
    bucket: host.config.HOT_BUCKET,
    token: host.dev.token,
    privateKey: host.dev.privateKey,
    publicKey: host.dev.publicKey,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`soak orchestrator failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
