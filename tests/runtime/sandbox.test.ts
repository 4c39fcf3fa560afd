/**
 * Both local runtimes, for real: `thread` (WorkerSandbox, worker threads) and `process`
 * (ProcessSandbox, isolated agent processes). Every failure mode of agent code ends only its own
 * run with the right outcome, the agent sees no orchestrator env, what it publishes and persists
 * is validated, and only bytes that hash to their verified sha256 are ever imported. The same
 * cases run against each runtime; what only one of them has is tested below the shared suite.
 */
import { describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { abortAfterMs, DEFAULT_SANDBOX_LIMITS } from '../../shared/adapters/node/sandbox';
import { BundleIntegrityError, InspectionUnavailableError, InvalidManifestError } from '../../shared/adapters/node/errors';
import { BundleRejectedError } from '../../shared/core/errors';
import type { AgentSandbox, SandboxRun, VerifiedBundleRef } from '../../shared/core/ports';
import { createLogger, type Logger } from '../../shared/core/logger';
import { makeEnvelope } from '../../shared/core/envelope';
import { createTestInspector, createTestProcesses, STARVED_HEAP_MB } from '../support/inspector';

const RUNTIMES: [string, (opts?: { memoryMb?: number; logger?: Logger; quick?: boolean }) => AgentSandbox][] = [
  [
    'thread',
    (o = {}) =>
      createTestInspector({
        ...(o.memoryMb ? { memoryMb: o.memoryMb } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
        ...(o.quick ? { inspectTimeoutMs: 300 } : {}),
      }),
  ],
  [
    'process',
    (o = {}) =>
      createTestProcesses({
        ...(o.memoryMb ? { memoryMb: o.memoryMb } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
        ...(o.quick ? { loadTimeoutMs: 300 } : {}),
      }),
  ],
];

function bundle(src: string, key = 'agents/t/1.0.0.mjs'): VerifiedBundleRef {
  const bytes = new TextEncoder().encode(src);
  return { key, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function runOf(src: string, over: Partial<SandboxRun> = {}): SandboxRun {
  return { agent: 'tester', version: '1.0.0', bundle: bundle(src), kind: 'cycle', cycle: 1, state: {}, timeoutMs: 2_000, ...over };
}

const agent = (body: string, extra = '') => `export default { ${extra} async runCycle(ctx) { ${body} } };`;

describe.each(RUNTIMES)('%s runtime: inspect', (_name, make) => {
  const sandbox = make();
  it('reads what the default export declares, with contract defaults', async () => {
    const m = await sandbox.inspect(
      bundle(`export default { cycleSeconds: 2, timeoutSeconds: 0.5, subscriptions: ['a.b'], runCycle() {}, onEnvelope() {} };`),
    );
    expect(m).toEqual({ cycleSeconds: 2, timeoutSeconds: 0.5, subscriptions: ['a.b'], hasOnEnvelope: true });
    expect(await sandbox.inspect(bundle(`export default { runCycle() {} };`))).toEqual({
      cycleSeconds: 60,
      timeoutSeconds: 30,
      subscriptions: [],
      hasOnEnvelope: false,
    });
  });

  const bad: [string, string, RegExp][] = [
    ['a non-object default export', 'export default 42;', /not an agent object/],
    ['no runCycle', 'export default { cycleSeconds: 5 };', /no runCycle/],
    ['a period below 1 s', 'export default { cycleSeconds: 0.5, runCycle() {} };', /cycleSeconds/],
    ['subscriptions that are not strings', 'export default { subscriptions: [1], runCycle() {} };', /subscriptions/],
    ['a syntax error', 'export default { runCycle() { ', /could not be imported/],
    ['top-level code that throws', 'throw new Error("nope"); export default { runCycle() {} };', /nope/],
    ['top-level code that exits', 'process.exit(2); export default { runCycle() {} };', /exited/],
  ];
  for (const [title, src, re] of bad) {
    it(`rejects ${title} with InvalidManifestError (the bundle's fault: bad_manifest)`, async () => {
      const err = await sandbox.inspect(bundle(src)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidManifestError);
      expect(err).toBeInstanceOf(BundleRejectedError);
      expect((err as BundleRejectedError).reason).toBe('bad_manifest');
      expect((err as Error).message).toMatch(re);
    });
  }

  // failures of the host, not verdicts on the bundle: InspectionUnavailableError (retried by the manager)
  it('cuts a load that does not finish in time: the inspection could not be done (a busy host looks the same)', async () => {
    const quick = make({ quick: true });
    const err = await quick.inspect(bundle('while (true) {} export default { runCycle() {} };')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InspectionUnavailableError);
    expect(err).not.toBeInstanceOf(BundleRejectedError);
    expect((err as Error).message).toMatch(/did not finish within 300 ms/);
  });

  it('bytes that do not hash to their verified sha256 are never inspected', async () => {
    const b = bundle('export default { runCycle() {} };');
    const forged: VerifiedBundleRef = { ...b, bytes: new TextEncoder().encode('export default { runCycle() {}, forged: true };') };
    const err = await sandbox.inspect(forged).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InspectionUnavailableError);
    expect((err as Error).message).toMatch(/do not hash to the verified sha256/);
  });
});

describe('thread runtime: the host', () => {
  it('a worker that cannot start (a heap limit too small for the isolate) is InspectionUnavailableError, for any bundle', async () => {
    const starved = createTestInspector({ memoryMb: STARVED_HEAP_MB });
    const err = await starved.inspect(bundle('export default { runCycle() {} };')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InspectionUnavailableError);
    // node reports a V8 isolate that cannot even bootstrap in its heap as the worker running out of memory
    expect((err as Error).message).toMatch(
      /^the inspector ran out of memory \(heap limit 4 MB\) while loading the bundle$|^the inspector's worker thread failed to start: /,
    );
  });
});

describe.each(RUNTIMES)('%s runtime: run', (_name, make) => {
  const sandbox = make();
  it('runs a cycle: ctx fields, state get/set/delete, publish, logs', async () => {
    const logs: string[] = [];
    const sb = make({
      logger: {
        debug() {},
        info: (m) => logs.push(m),
        warn() {},
        error() {},
        child() {
          return this;
        },
      },
    });
    const src = agent(`
      const n = (ctx.state.get('n') ?? 0) + 1;
      ctx.state.set('n', n);
      ctx.state.delete('old');
      ctx.state.set('seen', { agent: ctx.agent, cycle: ctx.cycle, aborted: ctx.signal.aborted, keys: ctx.state.keys().sort() });
      ctx.log.info('hello from the agent', { n });
      await ctx.publish('greeting', { n }, 'echo');
      await ctx.publish('plain.topic', { x: [1, 2] });
    `);
    const res = await sb.run(runOf(src, { state: { n: 41, old: 'x' }, cycle: 7 }));
    expect(res).toMatchObject({ outcome: 'ok', error: null });
    expect(res.stateChanges).toEqual({ n: 42, old: undefined, seen: { agent: 'tester', cycle: 7, aborted: false, keys: ['n'] } });
    expect('old' in res.stateChanges).toBe(true);
    expect(res.published).toEqual([
      { topic: 'greeting', payload: { n: 42 }, recipient: 'echo' },
      { topic: 'plain.topic', payload: { x: [1, 2] } },
    ]);
    expect(logs).toContain('hello from the agent');
    // measured from the agent's start to its end, in whole ms: an ok run ended before its timeout
    expect(Number.isInteger(res.durationMs)).toBe(true);
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
    expect(res.durationMs).toBeLessThanOrEqual(runOf(src).timeoutMs);
  });

  it('gives the agent an empty process.env: no orchestrator configuration or credentials', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'do-not-leak';
    try {
      const res = await sandbox.run(
        runOf(agent(`ctx.state.set('env', Object.keys(process.env)); ctx.state.set('secret', process.env.AWS_SECRET_ACCESS_KEY ?? null);`)),
      );
      expect(res.outcome).toBe('ok');
      expect(res.stateChanges).toEqual({ env: [], secret: null });
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('runs onEnvelope with the envelope for kind envelope', async () => {
    const env = makeEnvelope({ topic: 'greeting', sender: 'hello', payload: { text: 'hi' }, recipient: 'tester' });
    const src = `export default { runCycle() {}, async onEnvelope(e, ctx) { ctx.state.set('got', e.payload.text + ' from ' + e.sender); } };`;
    const res = await sandbox.run(runOf(src, { kind: 'envelope', envelope: env }));
    expect(res).toMatchObject({ outcome: 'ok', stateChanges: { got: 'hi from hello' } });
    const none = await sandbox.run(runOf(agent(''), { kind: 'envelope', envelope: env }));
    expect(none).toMatchObject({ outcome: 'error', error: expect.stringMatching(/no onEnvelope/) });
  });

  const failures: [string, string, Partial<SandboxRun>, string, RegExp][] = [
    ['a thrown exception', agent(`throw new TypeError('bad thing');`), {}, 'error', /TypeError: bad thing/],
    ['a rejected promise', agent(`await Promise.reject(new Error('rejected'));`), {}, 'error', /rejected/],
    [
      'an exception in a timer callback',
      agent(`setTimeout(() => { throw new Error('late'); }, 5); await new Promise(() => {});`),
      {},
      'error',
      /uncaught: late/,
    ],
    ['an unhandled rejection', agent(`Promise.reject(new Error('floating')); await new Promise(() => {});`), {}, 'error', /floating/],
    ['a hang past the timeout', agent(`await new Promise(() => {});`), { timeoutMs: 300 }, 'timeout', /timed out after 300 ms/],
    ['a synchronous busy loop', agent(`for (;;) {}`), { timeoutMs: 300 }, 'timeout', /timed out/],
    [
      'an agent that gives up on the signal by throwing',
      agent(`await new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)));`),
      { timeoutMs: 300 },
      'timeout',
      /TimeoutError.*after the timeout signal/,
    ],
    ['process.exit(1)', agent(`process.exit(1);`), {}, 'crashed', /exit code 1/],
    [
      'an unbounded allocation',
      agent(`const a = []; for (;;) a.push(new Array(10000).fill({ x: Math.random() }));`),
      // the heap (64 MB) fills in well under a second; a generous deadline so a loaded machine
      // still meets the heap limit first
      { timeoutMs: 30_000 },
      'oom',
      /out of memory/,
    ],
    ['a bundle that cannot be imported', 'export default {', {}, 'error', /could not be imported/],
    ['publishing to an invalid topic', agent(`await ctx.publish('bad topic!', {});`), {}, 'error', /topic must match/],
    ['publishing a non-object payload', agent(`await ctx.publish('t', [1]);`), {}, 'error', /payload must be a JSON object/],
    [
      'publishing an envelope over 256 KB',
      agent(`await ctx.publish('t', { big: 'x'.repeat(300 * 1024) });`),
      {},
      'error',
      /over the limit of 262144/,
    ],
    ['a state over the limit', agent(`ctx.state.set('big', 'x'.repeat(70 * 1024));`), {}, 'error', /over the limit/],
    ['an invalid state key', agent(`ctx.state.set('no spaces', 1);`), {}, 'error', /state key must match/],
    ['a non-JSON state value', agent(`ctx.state.set('k', 10n);`), {}, 'error', /not JSON-serializable/],
  ];
  for (const [title, src, over, outcome, re] of failures) {
    it(`${title} ends the run as ${outcome}`, async () => {
      const res = await sandbox.run(runOf(src, over));
      expect(res.outcome).toBe(outcome);
      expect(res.error).toMatch(re);
    });
  }

  it('fires ctx.signal before the timeout; an agent that stops cleanly on it succeeds with its state', async () => {
    const src = agent(`
      const t0 = Date.now();
      await new Promise((res) => ctx.signal.addEventListener('abort', res));
      ctx.state.set('abortedAfter', Date.now() - t0);
      ctx.state.set('reason', ctx.signal.reason.name);
    `);
    // the signal fires 1 s before the deadline (10 % of the timeout, at most 1 s): time enough to
    // stop cleanly on a loaded machine
    const res = await sandbox.run(runOf(src, { timeoutMs: 10_000 }));
    expect(res.outcome).toBe('ok');
    expect(res.stateChanges.reason).toBe('TimeoutError');
    expect(res.stateChanges.abortedAfter).toBeGreaterThanOrEqual(8_900);
    expect(abortAfterMs(10_000)).toBe(9_000);
    expect(abortAfterMs(500)).toBe(450);
  });

  it('an agent that catches a rejected publish keeps running; nothing invalid is published', async () => {
    const res = await sandbox.run(
      runOf(
        agent(
          `try { await ctx.publish('', {}); } catch (e) { ctx.state.set('err', e.message.slice(0, 20)); } await ctx.publish('ok', { a: 1 });`,
        ),
      ),
    );
    expect(res).toMatchObject({ outcome: 'ok', published: [{ topic: 'ok', payload: { a: 1 } }] });
  });

  it("ctx.publish of the orchestrator's topics (agent.*, bundle.*) throws ReservedTopicError, which the agent can catch; nothing is published", async () => {
    const res = await sandbox.run(
      runOf(
        agent(`
          const caught = [];
          for (const topic of ['agent.failed', 'agent.restarted', 'bundle.rejected', 'kafka.rejected']) {
            try { await ctx.publish(topic, { name: 'victim', generation: 1, outcome: 'error' }); caught.push('published ' + topic); }
            catch (e) { caught.push([e.name, e.code, e instanceof Error]); }
          }
          ctx.state.set('caught', caught);
          await ctx.publish('agents.chat', { ok: true });
        `),
      ),
    );
    const refused = ['ReservedTopicError', 'reserved_topic', true];
    expect(res).toMatchObject({ outcome: 'ok', stateChanges: { caught: [refused, refused, refused, refused] } });
    expect(res.published).toEqual([{ topic: 'agents.chat', payload: { ok: true } }]);
  });

  it('a crashing or memory-hungry run does not disturb a concurrent healthy run', async () => {
    const healthy = runOf(agent(`await new Promise((r) => setTimeout(r, 300)); ctx.state.set('done', true);`));
    const results = await Promise.all([
      sandbox.run(healthy),
      sandbox.run(runOf(agent(`const a = []; for (;;) a.push(new Array(10000).fill(1.5));`))),
      sandbox.run(runOf(agent(`process.exit(1);`))),
      sandbox.run(runOf(agent(`for (;;) {}`), { timeoutMs: 200 })),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'oom', 'crashed', 'timeout']);
    expect(results[0]?.stateChanges).toEqual({ done: true });
  });

  it('imports exactly the verified bytes: bytes that do not hash to their sha256 are refused before anything runs', async () => {
    const src = agent(`ctx.state.set('v', 'genuine');`);
    const b = bundle(src);
    expect((await sandbox.run(runOf(src))).stateChanges).toEqual({ v: 'genuine' });
    const forged: VerifiedBundleRef = { ...b, bytes: new TextEncoder().encode(agent(`ctx.state.set('v', 'forged');`)) };
    await expect(sandbox.run(runOf(src, { bundle: forged }))).rejects.toBeInstanceOf(BundleIntegrityError);
  });

  it('a failure names the bundle in its stack: agents/<name>/<version>.mjs:LINE:COL', async () => {
    const src = 'export default {\n  async runCycle(ctx) {\n    const items = undefined;\n    return items.length;\n  },\n};\n';
    const res = await sandbox.run(runOf(src, { bundle: bundle(src, 'agents/tester/1.0.0.mjs') }));
    expect(res.outcome).toBe('error');
    expect(res.error).toMatch(/^TypeError: Cannot read properties of undefined \(reading 'length'\)/);
    expect(res.stack).toMatch(/at Object\.runCycle \(agents\/tester\/1\.0\.0\.mjs:4:18\)/);
  });
});

describe('process runtime: the pool', () => {
  const processes = createTestProcesses();

  it('a run queued behind one that times out starts in a fresh process, not in the one being ended', async () => {
    // one agent version, one warm process: the second run waits for the first, which hangs
    const src = agent(`if (ctx.state.get('hang')) await new Promise(() => {}); ctx.state.set('ran', ctx.cycle);`);
    const [hung, next] = await Promise.all([
      processes.run(runOf(src, { state: { hang: true }, timeoutMs: 500 })),
      processes.run(runOf(src, { cycle: 2, state: { hang: false }, timeoutMs: 30_000 })),
    ]);
    expect(hung.outcome).toBe('timeout');
    expect(next).toMatchObject({ outcome: 'ok', stateChanges: { ran: 2 } });
  });

  it('a run after a crash starts a fresh process; the warm one serves the runs after that', async () => {
    const src = agent(`if (ctx.state.get('exit')) process.exit(2); ctx.state.set('pid', process.pid);`);
    expect((await processes.run(runOf(src, { state: { exit: true } }))).outcome).toBe('crashed');
    const a = await processes.run(runOf(src, { cycle: 2 }));
    const b = await processes.run(runOf(src, { cycle: 3 }));
    expect(a.outcome).toBe('ok');
    expect(b.stateChanges.pid).toBe(a.stateChanges.pid);
  });
});

describe('thread runtime: the trusted side', () => {
  const threads = createTestInspector();

  it('raw log messages that go around ctx.log are capped on the trusted side: lines, bytes, field size', async () => {
    for (const [msgLen, cap] of [
      [10, 'lines'],
      [4000, 'bytes'],
    ] as const) {
      const records: Record<string, unknown>[] = [];
      const sb = createTestInspector({
        logger: createLogger({ level: 'debug', sink: (line) => records.push(JSON.parse(line) as Record<string, unknown>) }),
      });
      const src = `import { parentPort } from 'node:worker_threads';
        export default { async runCycle(ctx) {
          const fields = { blob: 'x'.repeat(64 * 1024) };
          for (let i = 0; i < 300; i++) parentPort.postMessage({ t: 'log', level: 'info', msg: ('raw ' + i + ' ').padEnd(${msgLen}, '.'), fields, runId: 'thread' });
        } };`;
      const res = await sb.run(runOf(src));
      expect(res.outcome).toBe('ok');
      const raw = records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('raw '));
      expect(raw.length).toBeGreaterThan(0);
      expect(raw.every((r) => r.agent === 'tester' && JSON.stringify(r.fields).length <= DEFAULT_SANDBOX_LIMITS.maxLogFieldBytes)).toBe(
        true,
      );
      if (cap === 'lines') expect(raw).toHaveLength(DEFAULT_SANDBOX_LIMITS.maxLogLines);
      else {
        expect(raw.length).toBeLessThan(DEFAULT_SANDBOX_LIMITS.maxLogLines);
        expect(raw.reduce((n, r) => n + String(r.msg).length, 0)).toBeLessThanOrEqual(DEFAULT_SANDBOX_LIMITS.maxLogBytes);
      }
      expect(records.filter((r) => r.msg === 'log limit of this run reached; further lines dropped')).toHaveLength(1);
    }
  });

  it('a publish of a reserved topic that goes around ctx.publish (a raw message) fails the run; nothing is published', async () => {
    const src = `import { parentPort } from 'node:worker_threads';
      export default { async runCycle(ctx) {
        parentPort.postMessage({ t: 'publish', topic: 'agent.failed', payload: { name: 'victim' }, runId: 'thread' });
        await ctx.publish('after', {});
      } };`;
    const res = await threads.run(runOf(src));
    expect(res).toMatchObject({ outcome: 'error', error: expect.stringMatching(/reserved topic agent\.failed/) });
    expect(res.published).toEqual([]);
  });
});

/**
 * Log flooding and forging (issue #10, item 4), from the trusted side with real agent code: every
 * line the agent logs or prints is one record of the host's logger with the agent's name, capped
 * per run (lines, bytes, field size); a printed line that looks like an orchestrator log line is
 * only the `msg` of the agent's record, never a host line of its own.
 */
describe.each(RUNTIMES)('%s runtime: what the agent logs and prints', (_name, make) => {
  const LIMITS = DEFAULT_SANDBOX_LIMITS;
  function recording() {
    const records: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'debug', sink: (line) => records.push(JSON.parse(line) as Record<string, unknown>) });
    const capWarnings = (cycle?: number) =>
      records.filter((r) => r.msg === 'log limit of this run reached; further lines dropped' && (cycle === undefined || r.cycle === cycle));
    return { records, logger, capWarnings };
  }
  const forged = JSON.stringify({ level: 'error', ts: '2026-01-01T00:00:00.000Z', msg: 'ledger corrupt', service: 'agent-orchestrator' });

  it('a printed line forged to look like an orchestrator log line comes out inside a record of the agent (agent, stream: stdout); a stdout flood stops at the cap', async () => {
    const rec = recording();
    const sb = make({ logger: rec.logger });
    const res = await sb.run(
      runOf(
        // the last write's callback: what it printed has been handed to the host (a worker's output
        // still in its own buffers when the run ends is lost with the worker, never the host's)
        agent(
          `process.stdout.write(${JSON.stringify(forged)} + '\\n'); for (let i = 0; i < 5000; i++) console.log('out ' + i); await new Promise((r) => process.stdout.write('end\\n', r));`,
        ),
      ),
    );
    expect(res.outcome).toBe('ok');
    await vi.waitFor(() => expect(rec.capWarnings()).toHaveLength(1), { timeout: 30_000, interval: 50 });
    const mine = rec.records.find((r) => r.msg === forged);
    expect(mine).toMatchObject({ level: 'info', agent: 'tester', version: '1.0.0', stream: 'stdout', service: 'agent-orchestrator' });
    // never a record of its own: no host record says "ledger corrupt"
    expect(rec.records.filter((r) => r.msg === 'ledger corrupt')).toEqual([]);
    const printed = rec.records.filter((r) => r.stream === 'stdout');
    expect(printed.length).toBeGreaterThan(0);
    expect(printed.length).toBeLessThanOrEqual(LIMITS.maxLogLines);
    expect(printed.every((r) => r.agent === 'tester')).toBe(true);
  });

  it('ctx.log: 1000 lines with 64 KB fields are cut at the line and byte caps, each field over its cap replaced by a note', async () => {
    const rec = recording();
    const sb = make({ logger: rec.logger });
    const res = await sb.run(
      runOf(
        agent(
          `const blob = 'x'.repeat(64 * 1024); for (let i = 0; i < 1000; i++) ctx.log.info('line ' + i, { blob }); ctx.state.set('done', true);`,
        ),
      ),
    );
    expect(res).toMatchObject({ outcome: 'ok', stateChanges: { done: true } });
    const lines = rec.records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('line '));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(LIMITS.maxLogLines);
    for (const l of lines) {
      expect(l.agent).toBe('tester');
      expect(JSON.stringify(l.fields).length).toBeLessThanOrEqual(LIMITS.maxLogFieldBytes);
    }
    const bytes = lines.reduce((n, l) => n + JSON.stringify(l).length, 0);
    expect(bytes).toBeLessThan(LIMITS.maxLogBytes + LIMITS.maxLogLines * 512);
  });

  it('what the agent prints on stderr is tagged stream: stderr, at warn', async () => {
    const rec = recording();
    const sb = make({ logger: rec.logger });
    expect((await sb.run(runOf(agent(`console.error('oops from the agent');`)))).outcome).toBe('ok');
    await vi.waitFor(() => expect(rec.records.find((r) => r.msg === 'oops from the agent')).toBeDefined(), {
      timeout: 30_000,
      interval: 50,
    });
    expect(rec.records.find((r) => r.msg === 'oops from the agent')).toMatchObject({ level: 'warn', agent: 'tester', stream: 'stderr' });
  });
});

describe('process runtime: output between runs', () => {
  it("a warm agent process flooding stdout after its run (a timer) is cut at that run's cap, tagged with the agent and the run", async () => {
    const records: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'debug', sink: (line) => records.push(JSON.parse(line) as Record<string, unknown>) });
    const sb = createTestProcesses({ logger });
    const res = await sb.run(
      runOf(agent(`setTimeout(() => { for (let i = 0; i < 5000; i++) console.log('late ' + i); }, 0);`), { cycle: 4 }),
    );
    expect(res.outcome).toBe('ok');
    await vi.waitFor(
      () =>
        expect(records.filter((r) => r.msg === 'log limit of this run reached; further lines dropped' && r.cycle === 4)).toHaveLength(1),
      { timeout: 30_000, interval: 50 },
    );
    const late = records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('late '));
    expect(late.length).toBeLessThanOrEqual(DEFAULT_SANDBOX_LIMITS.maxLogLines);
    expect(late.every((r) => r.agent === 'tester' && r.cycle === 4 && r.stream === 'stdout')).toBe(true);
  });
});
