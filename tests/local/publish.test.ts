/**
 * Foundation must-shows in local mode (the whole LocalOrchestrator in-process, with `agentctl`
 * run as a real process against it, as an agent author would):
 * - a bundle published with `agentctl publish` appears in the registry and runs (polled with a
 *   generous bound: tests assert no wall-clock figures, a slower machine only waits longer);
 * - a bundle signed by an untrusted key is rejected with a `bundle.rejected` ledger event naming
 *   the reason, the active version stays, and none of its code runs (it would drop a marker file);
 *   `agentctl publish` waits for that outcome and exits 1 with the reason (`--no-wait`: it does not);
 * - `agentctl publish` checks the bundle before uploading it: a syntax error (with its line and
 *   column), an import of a package it does not contain (with the fix), TypeScript; nothing is
 *   uploaded then;
 * - a broken agent's error, with its stack naming the bundle's line, is one command away
 *   (`agentctl agent NAME`); a new version of a quarantined agent stays quarantined until release,
 *   and publish says so;
 * - `agentctl logs NAME [--follow]` (GET /agents/NAME/logs) shows the agent's own lines, a failed
 *   run ending with its error; `ledger tail --agent NAME` includes the orchestrator's events about it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalOrchestrator } from '../../local/host';
import { silentLogger } from '../../shared/core/logger';
import { tempDir } from '../support/env';
import { waitFor } from '../support/local-process';

const data = tempDir('orch-publish-');
const work = tempDir('orch-publish-work-');
let host: LocalOrchestrator;

/** agentctl as a separate process; asynchronous, because s3rver runs in this test's process */
function agentctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/agentctl.mjs', ...args],
      { encoding: 'utf8', env: { ...process.env, AGENT_DATA_DIR: data.path } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  host = await LocalOrchestrator.start({ dataDir: data.path, port: 0, logger: silentLogger, env: { LOG_LEVEL: 'silent' } });
  host.writeEndpoints(); // what npm start does: agentctl finds the local hot directory through it
});

afterAll(async () => {
  await host?.stop();
  data.cleanup();
  work.cleanup();
});

describe('local mode: publishing with agentctl', () => {
  it('a signed bundle published with agentctl publish is registered and runs', async () => {
    const file = join(work.path, 'pub.mjs');
    writeFileSync(file, 'export default { cycleSeconds: 1, timeoutSeconds: 2, async runCycle(ctx) { ctx.state.set("ran", true); } };\n');
    const r = await agentctl('publish', file, '--name', 'pub', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^checked agents\/pub\/1\.0\.0\.mjs: loads as an agent \(cycleSeconds 1, timeoutSeconds 2\)$/m);
    expect(r.stdout).toMatch(/published s3:\/\/agent-hot-directory\/agents\/pub\/1\.0\.0\.mjs/);
    // it waited for the registration: the registry has it when publish returns
    expect(r.stdout).toMatch(/^registered pub 1\.0\.0$/m);
    expect(await host.registry.get('pub')).toMatchObject({ version: '1.0.0' });
    const rec = await waitFor('pub registered', async () => (await host.registry.get('pub')) ?? undefined, 60_000);
    expect(rec).toMatchObject({ version: '1.0.0', status: 'active', cycleSeconds: 1, signer: host.dev.publicKey });
    const hb = await waitFor(
      'pub ran a cycle',
      async () => ((await host.heartbeats.get('pub'))?.cycles ? await host.heartbeats.get('pub') : undefined),
      60_000,
    );
    expect(hb?.lastOutcome).toBe('ok');
    expect(await host.heartbeats.getState('pub')).toEqual({ ran: true });
  });

  it('a bundle signed by an untrusted key is rejected with a ledger event; the active version stays and its code never runs', async () => {
    const keys = join(work.path, 'stranger');
    expect((await agentctl('keygen', '--out', keys)).code).toBe(0);
    const marker = join(work.path, 'marker-untrusted');
    const file = join(work.path, 'evil.mjs');
    writeFileSync(
      file,
      `import { writeFileSync } from 'node:fs';\nexport default { async runCycle() { writeFileSync(${JSON.stringify(marker)}, 'ran'); } };\n`,
    );
    const r = await agentctl('publish', file, '--name', 'pub', '--version', '2.0.0', '--key', join(keys, 'signing.key'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agentctl: rejected \(unknown_key\): .*not trusted/m);
    const rejected = await waitFor(
      'bundle.rejected in the ledger',
      async () => {
        await host.idle();
        const page = await host.ledger.list({ limit: 1000, topic: 'bundle.rejected' });
        return page.entries.find((e) => e.payload.key === 'agents/pub/2.0.0.mjs');
      },
      60_000,
    );
    expect(rejected.payload).toMatchObject({ reason: 'unknown_key' });
    expect(String(rejected.payload.message)).toMatch(/not trusted/);
    expect((await host.registry.get('pub'))?.version).toBe('1.0.0');
    expect(existsSync(marker)).toBe(false);
    expect((await host.ledger.verify()).ok).toBe(true);
  });

  it('--no-wait returns after the upload (CI); a changed bundle under the active version is rejected as not_newer', async () => {
    const file = join(work.path, 'pub-changed.mjs');
    writeFileSync(file, 'export default { cycleSeconds: 1, async runCycle() { /* changed */ } };\n');
    const quick = await agentctl('publish', file, '--name', 'quick', '--version', '1.0.0', '--key', host.dev.keyFile, '--no-wait');
    expect(quick.code, quick.stderr).toBe(0);
    expect(quick.stdout).not.toMatch(/registered/);
    const r = await agentctl('publish', file, '--name', 'pub', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^agentctl: rejected \(not_newer\): version 1\.0\.0 is already active with different content; publish a new version$/m,
    );
  });

  it('checks before uploading: a syntax error with its line and column, a package it does not bundle, TypeScript', async () => {
    const bad = join(work.path, 'bad.mjs');
    writeFileSync(bad, 'export default {\n  async runCycle(ctx) { const a = ; }\n};\n');
    const syntax = await agentctl('publish', bad, '--name', 'bad', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/the bundle does not parse: agents\/bad\/1\.0\.0\.mjs:2:35: SyntaxError: Unexpected token ';'/);
    expect(syntax.stderr).toContain('const a = ;');

    const deps = join(work.path, 'deps.mjs');
    writeFileSync(deps, "import semver from 'semver';\nexport default { async runCycle(ctx) { ctx.log(semver.valid('1.0.0')); } };\n");
    const missing = await agentctl('publish', deps, '--name', 'bad', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/imports the package 'semver', which it does not contain: .*`agentctl build FILE`/);

    const ts = join(work.path, 'agent.ts');
    writeFileSync(ts, 'export default { async runCycle(ctx: unknown) {} };\n');
    const typed = await agentctl('publish', ts, '--name', 'bad', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(typed.code).toBe(1);
    expect(typed.stderr).toMatch(/is TypeScript: .*`agentctl build FILE`/);

    const notAgent = join(work.path, 'not-agent.mjs');
    writeFileSync(notAgent, 'export default { cycleSeconds: 1 };\n');
    const shape = await agentctl('publish', notAgent, '--name', 'bad', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toMatch(/does not load as an agent: the default export has no runCycle function/);
    // none of them was uploaded
    expect(await host.bundles.list('agents/bad/')).toEqual([]);
  });

  it('a broken agent: its error and stack line are one command away; a new version of a quarantined agent waits for release', async () => {
    const file = join(work.path, 'broken.mjs');
    writeFileSync(
      file,
      'export default {\n  cycleSeconds: 1,\n  async runCycle(ctx) { const page = undefined; ctx.log(page.items); },\n};\n',
    );
    expect((await agentctl('publish', file, '--name', 'broken', '--version', '1.0.0', '--key', host.dev.keyFile)).code).toBe(0);
    const shown = await waitFor(
      'agentctl agent broken shows the error',
      async () => {
        const r = await agentctl('agent', 'broken');
        return r.code === 0 && /^error/m.test(r.stdout) ? r.stdout : undefined;
      },
      60_000,
    );
    expect(shown).toMatch(/^ {2}TypeError: Cannot read properties of undefined \(reading 'items'\)$/m);
    expect(shown).toMatch(/^ {6}at Object\.runCycle \(agents\/broken\/1\.0\.0\.mjs:3:\d+\)$/m);

    expect((await agentctl('quarantine', 'broken')).code).toBe(0);
    writeFileSync(file, 'export default { cycleSeconds: 1, async runCycle(ctx) { ctx.state.set("fixed", true); } };\n');
    const fixed = await agentctl('publish', file, '--name', 'broken', '--version', '1.0.1', '--key', host.dev.keyFile);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/^note: broken is quarantined: version 1\.0\.1 does not run until `agentctl release broken`/m);
    const detail = await agentctl('agent', 'broken');
    expect(detail.stdout).toMatch(/^status {8}quarantined/m);
    expect(detail.stdout).toMatch(/^last error {4}at \S+ \(version 1\.0\.0; not current: version 1\.0\.1 registered since\)$/m);
    expect((await agentctl('release', 'broken')).code).toBe(0);
    await waitFor('the fixed version ran', async () => ((await host.heartbeats.getState('broken')).fixed ? true : undefined), 60_000);
  });

  it('agentctl logs shows the agent’s own lines (and --follow the new ones); ledger tail --agent includes the events about it', async () => {
    const file = join(work.path, 'chatty.mjs');
    writeFileSync(
      file,
      'export default { cycleSeconds: 1, async runCycle(ctx) { ctx.log("tick", { n: ctx.cycle }); if (ctx.cycle === 2) throw new Error("second cycle fails"); } };\n',
    );
    expect((await agentctl('publish', file, '--name', 'chatty', '--version', '1.0.0', '--key', host.dev.keyFile)).code).toBe(0);
    const logs = await waitFor(
      'three cycles logged',
      async () => {
        const r = await agentctl('logs', 'chatty');
        return r.code === 0 && /\{"n":3\}/.test(r.stdout) ? r.stdout : undefined;
      },
      60_000,
    );
    const lines = logs.trim().split('\n');
    expect(lines[0]).toMatch(/^\S+ info {2}\[1\.0\.0 cycle 1\] tick \{"n":1\}$/);
    expect(lines[1]).toMatch(/^\S+ info {2}\[1\.0\.0 cycle 2\] tick \{"n":2\}$/);
    expect(lines[2]).toMatch(/^\S+ error \[1\.0\.0 cycle 2\] run failed \(error\): second cycle fails \{"outcome":"error"\}$/);
    expect(lines[3]).toMatch(/\[1\.0\.0 cycle 3\] tick \{"n":3\}$/);

    // the same through the API
    const api = JSON.parse(readFileSync(join(data.path, 'endpoints.json'), 'utf8')).api as string;
    const token = readFileSync(join(data.path, 'api-token'), 'utf8').trim();
    const res = await fetch(new URL('/agents/chatty/logs?limit=2', api), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { agent: string; lines: { msg: string; runId: string; kind: string; cycle: number }[] };
    expect(body.agent).toBe('chatty');
    // the newest two: (at least) cycle 3's line, after cycle 2's error
    expect(body.lines).toHaveLength(2);
    expect(body.lines[1]).toMatchObject({ kind: 'cycle', msg: 'tick' });
    expect(body.lines[1]!.cycle).toBeGreaterThanOrEqual(3);

    // --follow prints lines of later cycles, until interrupted
    const child = spawn(process.execPath, ['bin/agentctl.mjs', 'logs', 'chatty', '-n', '1', '--follow'], {
      env: { ...process.env, AGENT_DATA_DIR: data.path },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const first = await waitFor('the first line', async () => (out.includes('tick') ? out.split('\n')[0] : undefined), 60_000);
    const firstCycle = Number(/cycle (\d+)\]/.exec(first)?.[1]);
    await waitFor('a later cycle followed', async () => (out.includes(`{"n":${firstCycle + 2}}`) ? true : undefined), 60_000);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);

    const tail = await agentctl('ledger', 'tail', '--agent', 'chatty', '-n', '1000');
    expect(tail.code).toBe(0);
    expect(tail.stdout).toMatch(/ agent\.registered orchestrator \{.*"name":"chatty"/);
    expect(tail.stdout).toMatch(/ agent\.failed orchestrator \{.*"error":"second cycle fails".*"name":"chatty"/);
    const help = await agentctl('ledger', 'tail', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--agent A {5}only entries about agent A/);
    await agentctl('pause', 'chatty');
  });

  it("the README's example agent works as shown: published as is, a broadcast greeting reaches its onEnvelope", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Writing and publishing an agent'));
    const source = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(source).toMatch(/subscriptions: \['greeting'\]/);
    const file = join(work.path, 'my-agent.mjs');
    writeFileSync(file, source!);
    const r = await agentctl('publish', file, '--name', 'my-agent', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^checked agents\/my-agent\/1\.0\.0\.mjs: loads as an agent \(cycleSeconds 10, timeoutSeconds 5, subscriptions greeting, onEnvelope\)$/m,
    );
    const api = JSON.parse(readFileSync(join(data.path, 'endpoints.json'), 'utf8')).api as string;
    const token = readFileSync(join(data.path, 'api-token'), 'utf8').trim();
    // as the README's curl does: a broadcast (no recipient); the router's view of subscriptions
    // is refreshed within seconds, so it is sent again until one arrives
    const got = await waitFor(
      'a broadcast greeting in my-agent’s logs',
      async () => {
        const res = await fetch(new URL('/events', api), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ topic: 'greeting', payload: { text: 'hi everyone' } }),
        });
        expect(res.status).toBe(202);
        const logs = await agentctl('logs', 'my-agent');
        return logs.stdout.split('\n').find((l) => l.includes(' got '));
      },
      60_000,
    );
    expect(got).toMatch(/info {2}\[1\.0\.0 envelope\] got \{"topic":"greeting","from":"api","text":"hi everyone"\}$/);
    await agentctl('pause', 'my-agent');
  });
});
