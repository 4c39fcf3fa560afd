/**
 * Signed means "from a trusted author", not "harmless": adversarial bundles, signed with local
 * mode's own dev key, run in the default `process` runtime of a whole local mode (real agent
 * processes, DynamoDB Local, s3rver, the API). Each one tries to take something that is not its
 * own, and each gets nothing of value: its run fails or reports a denial, and the orchestrator,
 * the API and a neighbour agent keep running.
 *
 * Each bundle reports what it managed to do in its state (`got`), so the test reads exactly what
 * the agent saw, not what we hope it saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalOrchestrator } from '../../local/host';
import { runtimeDirFor } from '../../local/platform';
import { bundleKey } from '../../shared/core/bundle/identity';
import { publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { silentLogger } from '../../shared/core/logger';
import { detectIsolation } from '../../shared/adapters/node/isolation';
import { tempDir } from '../support/env';
import { alive, waitFor } from '../support/local-process';

const data = tempDir('orch-adversarial-');
let host: LocalOrchestrator;

const api = (path: string, init: RequestInit = {}) =>
  fetch(host.apiUrl.replace(/\/$/, '') + path, {
    ...init,
    headers: { authorization: `Bearer ${host.dev.token}`, ...(init.headers ?? {}) },
  });

/** Publishes a signed bundle (as agentctl would) and waits for its registration. */
async function publish(name: string, source: string, version = '1.0.0'): Promise<void> {
  const bytes = new TextEncoder().encode(source);
  await host.bundles.put(bundleKey(name, version), bytes, {
    signature: signBundle(host.dev.privateKey, name, version, bytes),
    signer: publicKeyOf(host.dev.privateKey),
  });
  await waitFor(`${name}@${version} registered`, async () => ((await host.registry.get(name))?.version === version ? true : undefined));
}

/** Triggers one cycle and waits for its completion; returns its heartbeat and state. */
async function runOnce(name: string) {
  const before = (await host.heartbeats.get(name))?.cycles ?? 0;
  expect((await api(`/agents/${name}/trigger`, { method: 'POST' })).status).toBe(202);
  const hb = await waitFor(`${name} ran`, async () => {
    const h = await host.heartbeats.get(name);
    return h && h.cycles > before ? h : undefined;
  });
  return { hb, state: await host.heartbeats.getState(name) };
}

/** An agent that tries `attempt` (an async function body) and records what it got, or the error code. */
const prober = (attempt: string) => `
export default {
  cycleSeconds: 3600,
  timeoutSeconds: 3,
  async runCycle(ctx) {
    let got;
    try { got = await (async () => { ${attempt} })(); } catch (e) { got = 'denied: ' + (e && (e.code || e.name) || String(e)); }
    ctx.state.set('got', typeof got === 'string' ? got.slice(0, 200) : got === undefined ? 'nothing' : JSON.stringify(got).slice(0, 200));
  },
};`;

beforeAll(async () => {
  host = await LocalOrchestrator.start({
    dataDir: data.path,
    port: 0,
    logger: silentLogger,
    env: { ...process.env, LOG_LEVEL: 'silent', AGENT_RUNTIME: 'process' },
  });
  // a neighbour: a 1-second agent that must keep running through everything below
  await publish(
    'neighbour',
    'export default { cycleSeconds: 1, timeoutSeconds: 2, async runCycle(ctx) { ctx.state.set("n", (ctx.state.get("n") ?? 0) + 1); } };',
  );
});

afterAll(async () => {
  await host?.stop();
  data.cleanup();
});

/** The neighbour keeps cycling and the API answers: nothing an adversary did took the orchestrator down. */
async function orchestratorUnharmed(): Promise<void> {
  const n0 = ((await host.heartbeats.getState('neighbour')).n as number | undefined) ?? 0;
  await waitFor('the neighbour to keep running', async () =>
    ((await host.heartbeats.getState('neighbour')).n as number) > n0 ? true : undefined,
  );
  expect((await api('/healthz')).status).toBe(200);
  expect(alive(process.pid)).toBe(true);
}

describe('adversarial bundles in the process runtime (local mode)', () => {
  it('the host offers OS isolation here (uid or user namespace), not only the permission model', () => {
    expect(detectIsolation().kind).not.toBe('none');
  });

  const reads: [string, string][] = [
    ['the API token', `return (await import('node:fs')).readFileSync(${JSON.stringify(join(data.path, 'api-token'))}, 'utf8');`],
    [
      'the signing key',
      `return (await import('node:fs')).readFileSync(${JSON.stringify(join(data.path, 'keys', 'signing.key'))}, 'utf8');`,
    ],
    [
      'the DynamoDB namespace key',
      `return (await import('node:fs')).readFileSync(${JSON.stringify(join(data.path, 'keys', 'dynamodb-namespace'))}, 'utf8');`,
    ],
    ['its own /proc/self/environ', `return (await import('node:fs')).readFileSync('/proc/self/environ', 'utf8');`],
    [
      "the parent's environment (/proc/<ppid>/environ)",
      `return (await import('node:fs')).readFileSync('/proc/' + process.ppid + '/environ', 'utf8');`,
    ],
    ["the orchestrator's environment by its pid", `return (await import('node:fs')).readFileSync('/proc/${process.pid}/environ', 'utf8');`],
    ['the data dir listing', `return (await import('node:fs')).readdirSync(${JSON.stringify(data.path)});`],
    ['process.env', 'return Object.keys(process.env).filter((k) => k !== "NODE_CHANNEL_FD" && k !== "NODE_CHANNEL_SERIALIZATION_MODE");'],
  ];
  for (const [what, attempt] of reads) {
    it(`reading ${what}: denied, nothing of value`, async () => {
      const name = `read-${what
        .replace(/[^a-z]+/gi, '-')
        .toLowerCase()
        .replace(/^-|-$/g, '')}`.slice(0, 60);
      await publish(name, prober(attempt));
      const { state } = await runOnce(name);
      const got = String(state.got);
      // process.env holds nothing (the IPC channel's own variables excepted)
      if (what === 'process.env') expect(got).toBe('[]');
      else expect(got).toMatch(/^denied: (ERR_ACCESS_DENIED|EACCES|ENOENT|EPERM)/);
      expect(got).not.toContain(host.dev.token);
    });
  }

  it("another agent's state: the stores are out of reach (no network), its state untouched", async () => {
    await publish(
      'read-state',
      prober(`
        const net = await import('node:net');
        const port = ${JSON.stringify(new URL(host.ddb.endpoint).port)};
        return await new Promise((res, rej) => { const s = net.connect(Number(port), '127.0.0.1'); s.on('connect', () => { s.destroy(); res('connected'); }); s.on('error', rej); });
      `),
    );
    const { state } = await runOnce('read-state');
    expect(String(state.got)).toMatch(/^denied: (ENETUNREACH|ECONNREFUSED|EACCES|ERR_ACCESS_DENIED)/);
    // and the API is out of reach the same way
    await publish(
      'call-api',
      prober(
        `return await fetch(${JSON.stringify(`${host.apiUrl.replace(/\/$/, '')}/components/monitor/stop`)}, { method: 'POST' }).then((r) => 'status ' + r.status);`,
      ),
    );
    expect(String((await runOnce('call-api')).state.got)).toMatch(/^denied: /);
    expect((await host.components.list()).find((c) => c.name === 'monitor')?.running).toBe(true);
  });

  it('child_process: denied', async () => {
    await publish('spawner', prober(`return (await import('node:child_process')).execSync('id').toString();`));
    expect(String((await runOnce('spawner')).state.got)).toMatch(/^denied: ERR_ACCESS_DENIED/);
    await publish(
      'worker-thread',
      prober(`const { Worker } = await import('node:worker_threads'); new Worker('1', { eval: true }); return 'started';`),
    );
    expect(String((await runOnce('worker-thread')).state.got)).toMatch(/^denied: ERR_ACCESS_DENIED/);
  });

  it('a write outside its scratch directory: denied', async () => {
    const target = join(data.path, 'planted');
    await publish('writer', prober(`(await import('node:fs')).writeFileSync(${JSON.stringify(target)}, 'x'); return 'written';`));
    expect(String((await runOnce('writer')).state.got)).toMatch(/^denied: (ERR_ACCESS_DENIED|EACCES)/);
    expect(existsSync(target)).toBe(false);
    // its own scratch directory is writable (the working directory)
    await publish(
      'scratcher',
      prober(`const fs = await import('node:fs'); fs.writeFileSync('note.txt', 'mine'); return fs.readFileSync('note.txt', 'utf8');`),
    );
    expect((await runOnce('scratcher')).state.got).toBe('mine');
  });

  it('process.kill(process.pid) and process.kill(process.ppid): only that run fails; the orchestrator and its neighbours keep running', async () => {
    // as pid 1 of its own PID namespace the agent cannot even kill itself (the kernel ignores it);
    // where it can (no PID namespace) its process dies and the run is crashed
    await publish(
      'self-killer',
      'export default { cycleSeconds: 3600, timeoutSeconds: 3, async runCycle() { process.kill(process.pid, "SIGKILL"); } };',
    );
    expect(['crashed', 'ok']).toContain((await runOnce('self-killer')).hb.lastOutcome);
    await publish(
      'parent-killer',
      'export default { cycleSeconds: 3600, timeoutSeconds: 3, async runCycle() { process.kill(process.ppid, "SIGKILL"); await new Promise((r) => setTimeout(r, 500)); } };',
    );
    const r = await runOnce('parent-killer');
    expect(['crashed', 'ok']).toContain(r.hb.lastOutcome);
    await publish(
      'group-killer',
      `export default { cycleSeconds: 3600, timeoutSeconds: 3, async runCycle() { try { process.kill(${process.pid}, "SIGKILL"); } catch (e) {} try { process.kill(-1, "SIGKILL"); } catch (e) {} } };`,
    );
    await runOnce('group-killer');
    await orchestratorUnharmed();
  });

  it('a blocking hang (Atomics.wait) is cut at the deadline, with nothing left running', async () => {
    await publish(
      'blocker',
      'export default { cycleSeconds: 3600, timeoutSeconds: 1, async runCycle() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); } };',
    );
    const { hb } = await runOnce('blocker');
    expect(hb.lastOutcome).toBe('timeout');
    // its process (group) is gone: no agent process of it remains in the runtime's work dir
    await waitFor('the blocker process to be gone', async () =>
      readdirSync(runtimeDirFor(data.path)).some((d) => d.includes('blocker')) ? undefined : true,
    );
    await orchestratorUnharmed();
  });

  it('a 2 GB Buffer: only that run fails', async () => {
    await publish('hog', prober(`const b = Buffer.alloc(2 * 1024 * 1024 * 1024); return 'allocated ' + b.length;`));
    const { hb, state } = await runOnce('hog');
    // the allocation fails inside the agent (its data limit), or the agent process dies of it: never the host
    if (hb.lastOutcome === 'ok') expect(String(state.got)).toMatch(/^denied: RangeError/);
    else expect(['oom', 'crashed']).toContain(hb.lastOutcome);
    await orchestratorUnharmed();
  });

  it('the bundle is imported from the verified bytes only: nothing of it is on disk for anyone to swap', async () => {
    await publish('plain', 'export default { cycleSeconds: 3600, async runCycle(ctx) { ctx.state.set("v", "genuine"); } };');
    expect((await runOnce('plain')).state.v).toBe('genuine');
    const files = readdirSync(runtimeDirFor(data.path), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.mjs'))).toEqual([]);
  });
});
