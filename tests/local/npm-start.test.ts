/**
 * `npm start` as a user runs it: a real process that prints the URLs, keeps running, serves
 * /healthz, exits 0 on SIGINT, and finds its state again on the next start.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../local/emulators';
import { tempDir } from '../support/env';

const dataDir = tempDir('orch-npm-start-');
afterAll(() => dataDir.cleanup());

function startProcess(port: number): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: String(port), AGENT_DATA_DIR: dataDir.path, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group, so the test can press "Ctrl-C" the way a terminal does: SIGINT to
    // every process of the foreground group (npm, and local mode under it)
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/Orchestrator running/.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`npm start exited early with ${code}:\n${out}`));
    });
  });
  return { child, output: () => out, ready };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start', () => {
  it('prints the URLs and token location, serves the API, exits 0 on Ctrl-C, and keeps its state', async () => {
    const port = await freePort();
    const first = startProcess(port);
    await first.ready;
    const out = first.output();
    expect(out).toContain(`http://127.0.0.1:${port}/`);
    expect(out).toContain(join(dataDir.path, 'api-token'));
    const token = readFileSync(join(dataDir.path, 'api-token'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(dataDir.path, 'keys', 'signing.key'))).toBe(true);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    // the example agents are published and registered on the first start
    const names = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/agents`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { agents: { name: string }[] };
      const n = body.agents.map((a) => a.name).sort();
      return n.includes('hello') && n.includes('echo') ? n : undefined;
    }, 20_000);
    expect(names).toEqual(expect.arrayContaining(['echo', 'hello']));
    const auth = { headers: { authorization: `Bearer ${token}` } };
    // the example agent runs: hello's first cycle greets echo, and the ledger holds both
    const greeted = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/ledger?topic=greeting&limit=10`, auth);
      const body = (await r.json()) as { entries: { sender: string; recipient?: string }[] };
      return body.entries.length > 0 ? body.entries : undefined;
    }, 30_000);
    expect(greeted[0]).toMatchObject({ sender: 'hello', recipient: 'echo' });
    const before = (await (await fetch(`http://127.0.0.1:${port}/ledger/verify`, auth)).json()) as { ok: boolean; entries: number; head: string };
    expect(before.ok).toBe(true);

    const code = exitCode(first.child);
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await code).toBe(0);
    expect(existsSync(join(dataDir.path, 'endpoints.json'))).toBe(false);

    // second start: same token, agents still registered, nothing republished
    const second = startProcess(port);
    await second.ready;
    expect(second.output()).not.toMatch(/published example/i);
    const r = await fetch(`http://127.0.0.1:${port}/agents`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { agents: { name: string }[] };
    expect(body.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['echo', 'hello']));
    // nothing lost: the ledger still verifies and holds at least what it held before the restart
    const after = (await (await fetch(`http://127.0.0.1:${port}/ledger/verify`, auth)).json()) as { ok: boolean; entries: number };
    expect(after.ok).toBe(true);
    expect(after.entries).toBeGreaterThanOrEqual(before.entries);
    // SIGTERM as a service manager sends it: to the main process (npm) only
    const code2 = exitCode(second.child);
    second.child.kill('SIGTERM');
    expect(await code2).toBe(0);
  }, 120_000);
});
