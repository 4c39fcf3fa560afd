/**
 * Paged, filtered reads (`GET /agents?limit&cursor&status&prefix`, `GET /agents/summary`) through
 * the real API handler, the ControlService and the DynamoDB adapters on DynamoDB Local (the
 * `agents` GSI, the counts items, the heartbeats' `erroring` and `expect` indexes), the same pages
 * over gRPC/Connect `ListAgents`, and agentctl's `agents --status/--prefix/--limit/--all`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AgentsService, AgentStatus } from '../../shared/gen/agentorchestrator/v1/agents_pb';
import { main } from '../../cli/agentctl';
import { AgentStatusSchema, type AgentStatus as Status } from '../../shared/core/registry';
import { registration } from '../runtime/helpers';
import { startApiHarness, type ApiHarness } from './harness';

let h: ApiHarness;
const NOW = Date.now();
/** 30 agents: a-00 … a-19, b-00 … b-09 */
const NAMES = [
  ...Array.from({ length: 20 }, (_, i) => `a-${String(i).padStart(2, '0')}`),
  ...Array.from({ length: 10 }, (_, i) => `b-${String(i).padStart(2, '0')}`),
];
const PAUSED = ['a-03', 'a-11', 'b-04'];
const QUARANTINED = ['a-07', 'b-09'];

interface Page {
  agents: { name: string; status: Status; consecutiveErrors: number }[];
  cursor: string | null;
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await h.api(path);
  return { status: res.status, body: (await res.json()) as T };
}

/** Every page of a listing, following the cursors. */
async function pages(query: Record<string, string>): Promise<Page[]> {
  const out: Page[] = [];
  let cursor: string | null = null;
  do {
    const q: URLSearchParams = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const r: { status: number; body: Page } = await getJson<Page>(`/agents?${q}`);
    expect(r.status).toBe(200);
    out.push(r.body);
    cursor = r.body.cursor;
    expect(out.length).toBeLessThan(100);
  } while (cursor);
  return out;
}

const namesOf = (ps: Page[]) => ps.flatMap((p) => p.agents.map((a) => a.name));

beforeAll(async () => {
  h = await startApiHarness();
  for (const n of NAMES) await h.registry.register(registration(n, { cycleSeconds: 60, firstRunAt: NOW + 60_000 }));
  for (const n of PAUSED) await h.control.pause(n);
  for (const n of QUARANTINED) await h.control.quarantine(n);
});

afterAll(async () => {
  await h?.close();
});

describe('GET /agents: pages in name order', () => {
  it('without parameters: the first page (100 by default), here every agent, and no cursor', async () => {
    const r = await getJson<Page>('/agents');
    expect(r.status).toBe(200);
    expect(r.body.agents.map((a) => a.name)).toEqual(NAMES);
    expect(r.body.cursor).toBeNull();
  });

  it('limit=7 pages through every agent exactly once, in order, and the last cursor is null', async () => {
    const ps = await pages({ limit: '7' });
    expect(ps.map((p) => p.agents.length)).toEqual([7, 7, 7, 7, 2]);
    expect(namesOf(ps)).toEqual(NAMES);
  });

  it('a page that ends exactly at the last agent has no cursor', async () => {
    const ps = await pages({ limit: '10' });
    expect(ps.map((p) => p.agents.length)).toEqual([10, 10, 10]);
  });

  it('status filters (also across pages): each status holds exactly its agents', async () => {
    const want: Record<Status, string[]> = {
      active: NAMES.filter((n) => !PAUSED.includes(n) && !QUARANTINED.includes(n)),
      paused: PAUSED,
      quarantined: QUARANTINED,
      restarting: [],
    };
    for (const st of AgentStatusSchema.options) {
      const ps = await pages({ status: st, limit: '4' });
      expect(namesOf(ps)).toEqual(want[st]);
      for (const p of ps) for (const a of p.agents) expect(a.status).toBe(st);
    }
  });

  it('prefix filters, alone and with a status, across pages', async () => {
    expect(namesOf(await pages({ prefix: 'b-', limit: '3' }))).toEqual(NAMES.filter((n) => n.startsWith('b-')));
    expect(namesOf(await pages({ prefix: 'a-1', limit: '2' }))).toEqual(NAMES.filter((n) => n.startsWith('a-1')));
    expect(namesOf(await pages({ prefix: 'a-', status: 'paused', limit: '1' }))).toEqual(['a-03', 'a-11']);
    expect(namesOf(await pages({ prefix: 'zz' }))).toEqual([]);
  });

  it('a cursor is only a position: used with another prefix it starts at that prefix, or past it answers nothing', async () => {
    const first = await getJson<Page>('/agents?limit=2');
    const cursor = first.body.cursor!;
    expect(first.body.agents.map((a) => a.name)).toEqual(['a-00', 'a-01']);
    expect((await getJson<Page>(`/agents?prefix=b-&limit=2&cursor=${cursor}`)).body.agents.map((a) => a.name)).toEqual(['b-00', 'b-01']);
    const late = (await getJson<Page>('/agents?prefix=b-&limit=9')).body.cursor!;
    expect((await getJson<Page>(`/agents?prefix=a-&cursor=${late}`)).body).toEqual({ agents: [], cursor: null });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=-1', 'limit'],
    ['cursor=!!!', 'cursor'],
    [`cursor=${Buffer.from('Not A Name').toString('base64url')}`, 'cursor'],
    ['status=sleeping', 'status'],
    ['prefix=A', 'prefix'],
    ['offset=3', 'offset'],
  ])('%s → 400 with the error envelope naming the parameter', async (qs, param) => {
    const r = await getJson<{ error: { code: string; message: string } }>(`/agents?${qs}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(r.body.error.message).toContain(param);
  });
});

describe('GET /agents/summary: from the counts items and the heartbeat indexes', () => {
  it('counts by status, quarantined, erroring, and the earliest expected heartbeat', async () => {
    const before = await getJson<Record<string, unknown>>('/agents/summary');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      total: NAMES.length,
      byStatus: {
        active: NAMES.length - PAUSED.length - QUARANTINED.length,
        paused: PAUSED.length,
        quarantined: QUARANTINED.length,
        restarting: 0,
      },
      quarantined: QUARANTINED.length,
      erroring: 0,
    });
    // two failed runs and a heartbeat expected earlier than any other: erroring 2, oldest a-05
    for (const [n, by] of [
      ['a-05', NOW + 1_000],
      ['b-02', NOW + 5_000],
    ] as const)
      await h.heartbeats.complete(n, {
        runId: `r-${n}`,
        at: NOW,
        outcome: 'error',
        error: 'boom',
        durationMs: 3,
        generation: 1,
        stateChanges: {},
        expectBy: by,
        countsAsCycle: true,
      });
    const after = await getJson<{ erroring: number; oldestHeartbeat: unknown }>('/agents/summary');
    expect(after.body.erroring).toBe(2);
    expect(after.body.oldestHeartbeat).toEqual({
      agent: 'a-05',
      lastHeartbeat: new Date(NOW).toISOString(),
      stuckAt: new Date(NOW + 1_000).toISOString(),
    });
    // the page shows the same errors
    const page = await getJson<Page>('/agents?prefix=a-05');
    expect(page.body.agents[0]?.consecutiveErrors).toBe(1);
    // a successful cycle ends the erroring state; an operator restart resets it too
    await h.heartbeats.complete('a-05', {
      runId: 'r-ok',
      at: NOW + 10,
      outcome: 'ok',
      error: null,
      durationMs: 3,
      generation: 1,
      stateChanges: {},
      expectBy: NOW + 200_000,
      countsAsCycle: true,
    });
    await h.control.restart('b-02');
    expect((await getJson<{ erroring: number }>('/agents/summary')).body.erroring).toBe(0);
  });

  it('follows registrations, transitions and deregistrations exactly', async () => {
    const counts = async () => (await getJson<{ total: number; byStatus: Record<Status, number> }>('/agents/summary')).body;
    const start = await counts();
    await h.registry.register(registration('c-new', { firstRunAt: NOW + 60_000 }));
    await h.control.pause('c-new');
    expect(await counts()).toMatchObject({ total: start.total + 1, byStatus: { ...start.byStatus, paused: start.byStatus.paused + 1 } });
    // an upgrade changes no count; a refused transition neither
    await h.registry.register(registration('c-new', { version: '1.1.0', firstRunAt: NOW }));
    await expect(h.control.release('c-new')).rejects.toThrow();
    expect((await counts()).byStatus.paused).toBe(start.byStatus.paused + 1);
    expect(await h.registry.deregister('c-new', '1.0.0')).toBe(false);
    expect(await h.registry.deregister('c-new', '1.1.0')).toBe(true);
    expect(await counts()).toEqual(start);
    // what the counts say is what a full read of the registry says
    const all = await h.registry.list();
    for (const st of AgentStatusSchema.options) expect(start.byStatus[st]).toBe(all.filter((a) => a.status === st).length);
  });

  it('concurrent transitions of many agents keep the counts exact', async () => {
    const names = NAMES.filter((n) => !PAUSED.includes(n) && !QUARANTINED.includes(n)).slice(0, 12);
    await Promise.all(names.map((n) => h.control.pause(n)));
    await Promise.all(names.map((n) => h.control.resume(n)));
    await Promise.all(names.slice(0, 6).map((n) => h.control.quarantine(n)));
    const all = await h.registry.list();
    const counts = await h.registry.counts();
    for (const st of AgentStatusSchema.options) expect(counts[st]).toBe(all.filter((a) => a.status === st).length);
    await Promise.all(names.slice(0, 6).map((n) => h.control.release(n)));
  });
});

describe('the same pages over gRPC/Connect and agentctl', () => {
  it('ListAgents: limit, cursor, status, prefix; an empty request is the first page of 100', async () => {
    const agents = createClient(
      AgentsService,
      createConnectTransport({
        baseUrl: h.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => async (req) => {
            req.header.set('authorization', `Bearer ${h.token}`);
            return next(req);
          },
        ],
      }),
    );
    const all = await agents.listAgents({});
    expect(all.agents.map((a) => a.name)).toEqual((await h.registry.list()).map((a) => a.name));
    expect(all.cursor).toBe('');
    const names: string[] = [];
    let cursor = '';
    do {
      const p = await agents.listAgents({ limit: 3, cursor, status: AgentStatus.PAUSED, prefix: 'a-' });
      names.push(...p.agents.map((a) => a.name));
      cursor = p.cursor;
    } while (cursor);
    expect(names).toEqual(['a-03', 'a-11']);
    await expect(agents.listAgents({ limit: 5000 })).rejects.toThrow(/limit/);
    await expect(agents.listAgents({ cursor: '%%' })).rejects.toThrow(/cursor/);
  });

  async function agentctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await main(args, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { ...process.env, AGENT_API_URL: h.url, AGENT_API_TOKEN: h.token },
    });
    return { code, stdout, stderr };
  }

  it('agents --status quarantined, --prefix, --limit (with a hint for the next page), --all', async () => {
    const q = await agentctl(['agents', '--status', 'quarantined']);
    expect(q.code).toBe(0);
    expect(
      q.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(QUARANTINED);
    const one = await agentctl(['agents', '--prefix', 'b-', '--limit', '4', '--json']);
    const body = JSON.parse(one.stdout) as Page;
    expect(body.agents.map((a) => a.name)).toEqual(['b-00', 'b-01', 'b-02', 'b-03']);
    expect(body.cursor).toEqual(expect.any(String));
    const hinted = await agentctl(['agents', '--prefix', 'b-', '--limit', '4']);
    expect(hinted.stderr).toContain(`--cursor ${body.cursor}`);
    const next = await agentctl(['agents', '--prefix', 'b-', '--limit', '4', '--cursor', body.cursor!, '--json']);
    expect((JSON.parse(next.stdout) as Page).agents[0]?.name).toBe('b-04');
    const all = await agentctl(['agents', '--all', '--limit', '4', '--json']);
    expect((JSON.parse(all.stdout) as Page).agents.map((a) => a.name)).toEqual((await h.registry.list()).map((a) => a.name));
    expect((JSON.parse(all.stdout) as Page).cursor).toBeNull();
    expect(await agentctl(['agents', '--status', 'sleeping'])).toMatchObject({ code: 2 });
    expect(await agentctl(['agents', '--limit', '0'])).toMatchObject({ code: 2 });
    expect(await agentctl(['agents', '--prefix', 'zz'])).toMatchObject({ code: 0, stdout: 'no matching agents\n' });
  });
});
