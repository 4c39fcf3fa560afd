/**
 * `npm start` as a user runs it: a real process that prints the URLs, keeps running, serves
 * /healthz, exits 0 on SIGINT, and finds its state again on the next start. And every way it can
 * end says why, in one line (stderr and `<data dir>/exit.log`), with nothing left running: a
 * signal, an uncaught exception, an unhandled rejection, DynamoDB Local dying under it, and a
 * fatal out-of-memory (V8's own line and a diagnostic report, since no JavaScript runs then).
 *
 * Faults are injected from outside the product (tests/support/fault-hook.mjs through
 * NODE_OPTIONS=--import, triggered by a file once local mode is up; the JVM killed by its pid).
 *
 * One local mode per data dir: a second start on a data dir in use fails with a message naming
 * the first and changes nothing; after `kill -9` of the host its JVM is gone too (nothing keeps
 * serving the data dir) and the next start takes the data dir over. DynamoDB Local answers only
 * the secret namespace of the data dir (`keys/dynamodb-namespace`): any other client sees an empty
 * database.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLocalEndpoints } from '../../shared/definitions/local-data';
import { tempDir } from '../support/env';
import { alive, exitLog, killAllLocalModes, startLocalMode, waitFor } from '../support/local-process';

const dirs: ReturnType<typeof tempDir>[] = [];
const newDataDir = () => {
  const d = tempDir('orch-npm-start-');
  dirs.push(d);
  return d.path;
};
afterAll(() => {
  killAllLocalModes();
  for (const d of dirs) d.cleanup();
});

const FAULT_HOOK = join(process.cwd(), 'tests', 'support', 'fault-hook.mjs');

describe('npm start', () => {
  it('prints the URLs and token location, serves the API, exits 0 on Ctrl-C, and keeps its state', async () => {
    const dataDir = newDataDir();
    const first = startLocalMode({ dataDir });
    const url = await first.ready;
    const out = first.output();
    expect(out).toContain(join(dataDir, 'api-token'));
    const token = first.token();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(dataDir, 'keys', 'signing.key'))).toBe(true);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const auth = { headers: { authorization: `Bearer ${token}` } };
    // the example agents are published and registered on the first start
    const names = await waitFor('the example agents registered', async () => {
      const body = (await (await fetch(`${url}/agents`, auth)).json()) as { agents: { name: string }[] };
      const n = body.agents.map((a) => a.name).sort();
      return n.includes('hello') && n.includes('echo') ? n : undefined;
    });
    expect(names).toEqual(expect.arrayContaining(['echo', 'hello']));
    // the example agent runs: hello's first cycle greets echo, and the ledger holds both
    const greeted = await waitFor('hello greeting echo in the ledger', async () => {
      const body = (await (await fetch(`${url}/ledger?topic=greeting&limit=10`, auth)).json()) as {
        entries: { sender: string; recipient?: string }[];
      };
      return body.entries.length > 0 ? body.entries : undefined;
    });
    expect(greeted[0]).toMatchObject({ sender: 'hello', recipient: 'echo' });
    const before = (await (await fetch(`${url}/ledger/verify`, auth)).json()) as { ok: boolean; entries: number; head: string };
    expect(before.ok).toBe(true);
    const jvm = readLocalEndpoints(dataDir)?.dynamodbPid;
    expect(jvm).toBeGreaterThan(0);

    first.ctrlC();
    expect(await first.exited, first.output()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, 'endpoints.json'))).toBe(false);
    expect(alive(jvm!)).toBe(false);
    expect(first.output()).toMatch(/"msg":"local mode exiting".*"reason":"signal SIGINT"/);
    expect(exitLog(dataDir)).toEqual([expect.objectContaining({ msg: 'local mode exiting', reason: 'signal SIGINT', signal: 'SIGINT' })]);

    // second start: same token, agents still registered, nothing republished
    const second = startLocalMode({ dataDir });
    const url2 = await second.ready;
    expect(second.output()).not.toMatch(/published example/i);
    const body = (await (await fetch(`${url2}/agents`, auth)).json()) as { agents: { name: string }[] };
    expect(body.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['echo', 'hello']));
    // nothing lost: the ledger still verifies and holds at least what it held before the restart
    const after = (await (await fetch(`${url2}/ledger/verify`, auth)).json()) as { ok: boolean; entries: number };
    expect(after.ok).toBe(true);
    expect(after.entries).toBeGreaterThanOrEqual(before.entries);
    // SIGTERM as a service manager sends it: to the main process (npm) only
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toEqual({ code: 0, signal: null });
    expect(exitLog(dataDir).map((l) => l.reason)).toEqual(['signal SIGINT', 'signal SIGTERM']);
  }, 300_000);

  it('says why it ends, with nothing left running: SIGHUP, an uncaught exception, an unhandled rejection, DynamoDB Local dying', async () => {
    type Scenario = {
      name: string;
      env?: Record<string, string>;
      act: (dataDir: string, trigger: string) => void;
      code: number;
      reason: RegExp;
      detail?: RegExp;
    };
    const scenarios: Scenario[] = [
      // the terminal closed: its default action would end the process without a word
      { name: 'SIGHUP', act: (d) => process.kill(readLocalEndpoints(d)!.pid, 'SIGHUP'), code: 0, reason: /^signal SIGHUP$/ },
      {
        name: 'uncaught',
        env: { FAULT_KIND: 'throw' },
        act: (_d, t) => writeFileSync(t, 'go'),
        code: 1,
        reason: /^uncaught exception$/,
        detail: /injected fault: uncaught/,
      },
      {
        name: 'rejection',
        env: { FAULT_KIND: 'reject' },
        act: (_d, t) => writeFileSync(t, 'go'),
        code: 1,
        reason: /^unhandled rejection$/,
        detail: /injected fault: unhandled rejection/,
      },
      {
        name: 'jvm killed',
        act: (d) => process.kill(readLocalEndpoints(d)!.dynamodbPid!, 'SIGKILL'),
        code: 1,
        reason: /^dynamodb emulator died$/,
        detail: /"signal":"SIGKILL"/,
      },
    ];
    for (const s of scenarios) {
      const dataDir = newDataDir();
      const trigger = join(dataDir, 'fault-trigger');
      const lm = startLocalMode({ dataDir, env: { NODE_OPTIONS: `--import ${FAULT_HOOK}`, FAULT_TRIGGER: trigger, ...s.env } });
      await lm.ready;
      const ep = readLocalEndpoints(dataDir)!;
      s.act(dataDir, trigger);
      const ended = await lm.exited;
      expect(ended.code, `${s.name}: exit code\n${lm.output()}`).toBe(s.code);
      const lines = exitLog(dataDir);
      expect(lines, `${s.name}: one exit line\n${lm.output()}`).toHaveLength(1);
      expect(String(lines[0]!.reason), s.name).toMatch(s.reason);
      expect(lines[0]).toMatchObject({ msg: 'local mode exiting', pid: ep.pid });
      if (s.detail) expect(JSON.stringify(lines[0]), s.name).toMatch(s.detail);
      // the same line on stderr
      expect(lm.output(), s.name).toContain('"msg":"local mode exiting"');
      // nothing outlives it: local mode and its JVM are gone
      expect(alive(ep.pid), `${s.name}: local mode still running`).toBe(false);
      await waitFor(`${s.name}: the DynamoDB Local JVM to end`, async () => (alive(ep.dynamodbPid!) ? undefined : true), 20_000);
    }
  }, 600_000);

  it("a fatal out-of-memory leaves V8's line on stderr and a diagnostic report in the data dir, and no JVM behind", async () => {
    const dataDir = newDataDir();
    const trigger = join(dataDir, 'fault-trigger');
    const lm = startLocalMode({
      dataDir,
      env: { NODE_OPTIONS: `--import ${FAULT_HOOK} --max-old-space-size=192`, FAULT_TRIGGER: trigger, FAULT_KIND: 'oom' },
    });
    await lm.ready;
    const ep = readLocalEndpoints(dataDir)!;
    writeFileSync(trigger, 'go');
    const ended = await lm.exited;
    expect(ended.code).not.toBe(0);
    expect(lm.output()).toMatch(/heap out of memory/i);
    const reports = readdirSync(dataDir).filter((f) => /^report\..*\.json$/.test(f));
    expect(reports).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(dataDir, reports[0]!), 'utf8')) as { header: { event: string; processId: number } };
    expect(report.header).toMatchObject({ processId: ep.pid });
    expect(report.header.event).toMatch(/heap out of memory/i);
    // no JavaScript runs after V8's abort: the kernel ends the JVM with its parent (setpriv --pdeathsig)
    await waitFor('the DynamoDB Local JVM to end', async () => (alive(ep.dynamodbPid!) ? undefined : true), 20_000);
  }, 300_000);

  it('one local mode per data dir: a second start is refused, kill -9 leaves no JVM, the next start takes over; other DynamoDB clients see nothing', async () => {
    const dataDir = newDataDir();
    const first = startLocalMode({ dataDir });
    const url = await first.ready;
    const ep = readLocalEndpoints(dataDir)!;

    // a second local mode on the same data dir: refused, clearly, and the first keeps serving
    const second = startLocalMode({ dataDir, readyTimeoutMs: 60_000 });
    const refused = await second.exited;
    expect(refused.code, second.output()).toBe(1);
    expect(second.output()).toContain(`the data dir ${dataDir} is in use by local mode (pid ${ep.pid})`);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(readLocalEndpoints(dataDir)).toEqual(ep);

    // DynamoDB Local: the orchestrator's tables exist only in the data dir's secret namespace
    const nsKey = readFileSync(join(dataDir, 'keys', 'dynamodb-namespace'), 'utf8').trim();
    const ddb = (accessKeyId: string) =>
      new DynamoDBClient({ region: 'us-east-1', endpoint: ep.dynamodb, credentials: { accessKeyId, secretAccessKey: 'x' } });
    expect((await ddb(nsKey).send(new ListTablesCommand({}))).TableNames?.length).toBeGreaterThan(0);
    for (const stranger of ['AKIDEXAMPLE', 'local', 'fakeMyKeyId'])
      expect((await ddb(stranger).send(new ListTablesCommand({}))).TableNames, stranger).toEqual([]);

    // kill -9 of local mode: no JavaScript runs, yet its JVM does not outlive it
    process.kill(ep.pid, 'SIGKILL');
    await first.exited;
    await waitFor('the DynamoDB Local JVM to end with its parent', async () => (alive(ep.dynamodbPid!) ? undefined : true), 20_000);

    // the next start on that data dir takes it over, with its state
    const third = startLocalMode({ dataDir });
    await third.ready;
    const ep3 = readLocalEndpoints(dataDir)!;
    expect(ep3.pid).not.toBe(ep.pid);
    const agents = (await (
      await fetch(`${await third.ready}/agents`, { headers: { authorization: `Bearer ${third.token()}` } })
    ).json()) as {
      agents: { name: string }[];
    };
    expect(agents.agents.length).toBeGreaterThan(0);
    third.ctrlC();
    expect((await third.exited).code).toBe(0);
  }, 300_000);
});
