/**
 * Every route of the CONTRACT over a real local HTTP listener (local/http.ts in front of the
 * handler the Lambda runs), against DynamoDB Local: success shapes, 401 without/with a wrong
 * token, 404 unknown agent/route, 400 malformed JSON / unknown fields / bad query, 413 oversized
 * bodies, 405 wrong method — and no state change on any rejected request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { registration, T0 } from '../runtime/helpers';
import { uniqueSuffix } from '../support/env';
import { busEntrySize, PUT_EVENTS_MAX_BYTES, toBusEntry } from '../../shared/core/bus/events';
import { startApiHarness, stateOf, type ApiHarness } from './harness';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness();
  const now = Date.now();
  await h.registry.register(registration('alpha', { cycleSeconds: 10, timeoutSeconds: 2, firstRunAt: now + 10_000 }));
  await h.registry.register(registration('beta', { cycleSeconds: 60, firstRunAt: now + 60_000 }));
  await h.heartbeats.complete('beta', {
    runId: 'r1',
    at: T0,
    outcome: 'error',
    error: 'boom',
    durationMs: 12,
    generation: 0,
    stateChanges: {},
    expectBy: null,
    countsAsCycle: true,
  });
});

afterAll(async () => {
  await h?.close();
});

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Publishes through the API and waits until the ledger writer appended what the bus holds. */
async function publishAll(topic: string, payloads: Record<string, unknown>[], recipient?: string): Promise<string[]> {
  const ids: string[] = [];
  for (const payload of payloads) {
    const res = await h.api('/events', json({ topic, payload, ...(recipient ? { recipient } : {}) }));
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await h.bus.idle();
  return ids;
}

async function expectError(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.code).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

/** Runs a request that must be rejected and proves nothing changed. */
async function rejected(path: string, init: RequestInit & { token?: string | null }, status: number, code?: string) {
  const before = await stateOf(h);
  const err = await expectError(await h.api(path, init), status, code);
  expect(await stateOf(h)).toEqual(before);
  return err;
}

const AUTHED: [string, string, unknown?][] = [
  ['GET', '/agents'],
  ['GET', '/agents/alpha'],
  ['POST', '/agents/alpha/pause', {}],
  ['POST', '/agents/alpha/resume', {}],
  ['POST', '/agents/alpha/trigger', {}],
  ['POST', '/agents/alpha/restart', {}],
  ['POST', '/agents/alpha/quarantine', {}],
  ['POST', '/agents/alpha/release', {}],
  ['GET', '/metrics'],
  ['GET', '/events/stream'],
  ['POST', '/events', { topic: 'x.y', payload: {} }],
  ['GET', '/ledger?after=0&limit=10'],
  ['GET', '/ledger/verify'],
  ['POST', '/ledger/replay', { fromSeq: 1, toSeq: 2 }],
  ['GET', '/components'],
  ['POST', '/components/scheduler/stop', {}],
  ['POST', '/components/scheduler/start', {}],
  ['GET', '/no/such/route'],
];

describe('authentication', () => {
  it('public routes need no token: /healthz, the dashboard and its assets', async () => {
    const hz = await h.api('/healthz', { token: null });
    expect(hz.status).toBe(200);
    expect(await hz.json()).toEqual({ ok: true });
    const page = await h.api('/', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script src="/dashboard/app.js"');
    const js = await h.api('/dashboard/app.js', { token: null });
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    // the script is syntactically valid JavaScript
    const src = await js.text();
    expect(() => new Function(src)).not.toThrow();
    const css = await h.api('/dashboard/app.css', { token: null });
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it.each(AUTHED)('%s %s without a token is 401 and changes nothing', async (method, path, body) => {
    const err = await rejected(
      path,
      {
        method,
        token: null,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      },
      401,
      'unauthorized',
    );
    expect(err.message).toMatch(/Authorization/);
  });

  it.each(AUTHED)('%s %s with a wrong token is 401 and changes nothing', async (method, path, body) => {
    await rejected(
      path,
      {
        method,
        token: h.token.slice(0, -1) + (h.token.endsWith('0') ? '1' : '0'),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      401,
      'unauthorized',
    );
  });

  it('rejects other schemes, a token prefix and an empty bearer', async () => {
    for (const authorization of [`Basic ${h.token}`, `Bearer ${h.token.slice(0, 10)}`, 'Bearer ', `Bearer ${h.token}x`, `${h.token}`]) {
      const res = await fetch(h.url + '/agents', { headers: { authorization } });
      await expectError(res, 401, 'unauthorized');
    }
    expect((await h.api('/agents')).status).toBe(200);
  });
});

describe('agents', () => {
  it('GET /agents lists agents with exactly the contract fields', async () => {
    const res = await h.api('/agents');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { agents: Record<string, unknown>[] };
    expect(body.agents.map((a) => a.name).sort()).toEqual(['alpha', 'beta']);
    for (const a of body.agents)
      expect(Object.keys(a).sort()).toEqual(
        ['consecutiveErrors', 'cycleSeconds', 'lastError', 'lastHeartbeat', 'name', 'nextRunAt', 'restarts', 'status', 'version'].sort(),
      );
    const beta = body.agents.find((a) => a.name === 'beta');
    expect(beta).toMatchObject({
      status: 'active',
      version: '1.0.0',
      cycleSeconds: 60,
      lastHeartbeat: new Date(T0).toISOString(),
      consecutiveErrors: 1,
      lastError: 'boom',
      restarts: 0,
    });
  });

  it('GET /agents/{name} shows one agent; unknown is 404, a malformed name 400', async () => {
    const res = await h.api('/agents/alpha');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'alpha', status: 'active', cycleSeconds: 10, timeoutSeconds: 2 });
    await rejected('/agents/ghost', {}, 404, 'not_found');
    await rejected('/agents/Not_A_Name', {}, 400, 'validation_failed');
    await rejected('/agents/alpha?x=1', {}, 400, 'validation_failed');
  });

  it('pause, resume, trigger, restart, quarantine, release change the agent and write ledger events', async () => {
    await h.bus.idle();
    const head0 = (await h.ledger.head()).seq;
    const pause = await h.api('/agents/alpha/pause', { method: 'POST' });
    expect(pause.status).toBe(200);
    expect(((await pause.json()) as { agent: { status: string } }).agent.status).toBe('paused');
    expect((await h.registry.get('alpha'))?.status).toBe('paused');

    await rejected('/agents/alpha/pause', { method: 'POST' }, 409, 'conflict');

    const trigger = await h.api('/agents/alpha/trigger', json({}));
    expect(trigger.status).toBe(202);
    const t = (await trigger.json()) as { runId: string; agent: { status: string } };
    expect(t.agent.status).toBe('paused');
    expect(h.dispatcher.items.at(-1)?.message).toEqual({ kind: 'trigger', agent: 'alpha', runId: t.runId });

    const resume = await h.api('/agents/alpha/resume', json({}));
    expect(resume.status).toBe(200);
    expect(((await resume.json()) as { agent: { status: string; nextRunAt: string | null } }).agent).toMatchObject({ status: 'active' });

    const restart = await h.api('/agents/alpha/restart', json({}));
    expect(restart.status).toBe(200);
    const q = await h.api('/agents/alpha/quarantine', json({}));
    expect(q.status).toBe(200);
    expect(((await q.json()) as { agent: { status: string } }).agent.status).toBe('quarantined');
    await rejected('/agents/alpha/trigger', json({}), 409, 'conflict');
    const rel = await h.api('/agents/alpha/release', json({}));
    expect(rel.status).toBe(200);
    expect(((await rel.json()) as { agent: { status: string } }).agent.status).toBe('active');

    await h.bus.idle();
    const page = (await (await h.api(`/ledger?after=${head0}&limit=50`)).json()) as {
      entries: { topic: string; payload: { name?: string } }[];
    };
    expect(page.entries.map((e) => e.topic)).toEqual([
      'agent.paused',
      'agent.triggered',
      'agent.resumed',
      'agent.restarted',
      'agent.quarantined',
      'agent.released',
    ]);
    expect(page.entries.every((e) => e.payload.name === 'alpha')).toBe(true);
  });

  it('actions on unknown agents are 404, unknown actions 400, bodies must be empty or {}', async () => {
    await rejected('/agents/ghost/pause', json({}), 404, 'not_found');
    await rejected('/agents/ghost/trigger', { method: 'POST' }, 404, 'not_found');
    await rejected('/agents/alpha/explode', json({}), 400, 'validation_failed');
    await rejected('/agents/alpha/pause', json({ reason: 'x' }), 400, 'validation_failed');
    await rejected(
      '/agents/alpha/pause',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' },
      400,
      'malformed_json',
    );
    await rejected(
      '/agents/alpha/pause',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' },
      400,
      'malformed_json',
    );
    await rejected(
      '/agents/alpha/pause',
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'pause please' },
      415,
      'unsupported_media_type',
    );
    await rejected('/agents/alpha/pause', { method: 'GET' }, 405, 'method_not_allowed');
  });
});

describe('events and ledger', () => {
  it('POST /events publishes an envelope from the api; it is in the ledger', async () => {
    const res = await h.api('/events', json({ topic: 'ops.note', payload: { text: 'hello' }, recipient: 'beta' }));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // accepted by the bus; the ledger writer appends it asynchronously (as in local mode and the cloud)
    await h.bus.idle();
    const page = (await (await h.api('/ledger?topic=ops.note&limit=10')).json()) as {
      entries: { id: string; sender: string; recipient?: string; payload: unknown }[];
    };
    expect(page.entries.find((e) => e.id === id)).toMatchObject({ sender: 'api', recipient: 'beta', payload: { text: 'hello' } });
  });

  it('POST /events rejects malformed JSON, unknown fields, bad topics, oversized bodies — nothing published', async () => {
    await rejected(
      '/events',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"a.b","payload":{}' },
      400,
      'malformed_json',
    );
    await rejected('/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '\u0000' }, 400, 'malformed_json');
    await rejected('/events', json({ topic: 'a.b', payload: {}, extra: 1 }), 400, 'validation_failed');
    await rejected('/events', json({ topic: 'a.b', payload: [] }), 400, 'validation_failed');
    await rejected('/events', json({ topic: '-bad topic', payload: {} }), 400, 'validation_failed');
    await rejected('/events', json({ topic: 'a.b' }), 400, 'validation_failed');
    await rejected('/events', json({ topic: 'a.b', payload: {}, recipient: 'Bad Name' }), 400, 'validation_failed');
    await rejected('/events', { method: 'POST' }, 400, 'malformed_json');
    // over the 300 KB body limit: refused while reading
    await rejected('/events', json({ topic: 'a.b', payload: { blob: 'x'.repeat(400 * 1024) } }), 413, 'payload_too_large');
    // under the body limit but over the 256 KB envelope limit
    await rejected('/events', json({ topic: 'a.b', payload: { blob: 'x'.repeat(270 * 1024) } }), 413, 'envelope_too_large');
  });

  it("POST /events refuses the orchestrator's own topics (agent.*, bundle.*, kafka.rejected): 400 reserved_topic, nothing published", async () => {
    const alpha = await h.registry.get('alpha');
    const forged = {
      name: 'alpha',
      version: '1.0.0',
      runId: 'x',
      kind: 'cycle',
      cycle: 1,
      generation: alpha?.generation ?? 1,
      outcome: 'error',
    };
    for (const topic of ['agent.failed', 'agent.quarantined', 'bundle.rejected', 'kafka.rejected']) {
      const err = await rejected(
        '/events',
        json({ topic, payload: { ...forged, durationMs: 1, consecutiveErrors: 99 } }),
        400,
        'reserved_topic',
      );
      expect(err.message).toMatch(new RegExp(`topic ${topic.replace('.', '\\.')} is reserved`));
    }
    // the same words elsewhere in a topic are not reserved
    expect((await h.api('/events', json({ topic: 'my.agent.failed', payload: {} }))).status).toBe(202);
    expect(await h.registry.get('alpha')).toEqual(alpha);
  });

  it("POST /events at the bus entry limit: exactly 256 KB is published (202), one byte more is the API's own 413", async () => {
    const topic = `edge.${uniqueSuffix()}`;
    // the size EventBridge counts for the entry (Source + DetailType + envelope JSON); id and ts have fixed lengths
    const entrySize = (blob: string) =>
      busEntrySize(
        toBusEntry({
          id: '00000000-0000-0000-0000-000000000000',
          topic,
          sender: 'api',
          recipient: 'beta',
          ts: new Date(T0).toISOString(),
          payload: { blob },
        }),
      );
    const n = PUT_EVENTS_MAX_BYTES - entrySize('');
    expect(entrySize('x'.repeat(n))).toBe(PUT_EVENTS_MAX_BYTES);

    const err = await rejected(
      '/events',
      json({ topic, payload: { blob: 'x'.repeat(n + 1) }, recipient: 'beta' }),
      413,
      'envelope_too_large',
    );
    expect(err.message).toBe(
      `the envelope would make a bus entry of ${PUT_EVENTS_MAX_BYTES + 1} bytes, over the limit of ${PUT_EVENTS_MAX_BYTES}`,
    );

    const ok = await h.api('/events', json({ topic, payload: { blob: 'x'.repeat(n) }, recipient: 'beta' }));
    expect(ok.status).toBe(202);
    const { id } = (await ok.json()) as { id: string };
    await h.bus.idle();
    expect(h.bus.deadLetters).toEqual([]);
    const page = (await (await h.api(`/ledger?topic=${topic}&limit=10`)).json()) as {
      entries: { id: string; payload: { blob: string } }[];
    };
    expect(page.entries.map((e) => [e.id, e.payload.blob.length])).toEqual([[id, n]]);
  });

  it('a body far over the limit is refused without being read (declared length)', async () => {
    const before = await stateOf(h);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(h.url + '/events', {
        method: 'POST',
        headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json', 'content-length': String(1024 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"topic":"a.b","payload":{"x":"');
    });
    expect(status).toBe(413);
    expect(await stateOf(h)).toEqual(before);
  });

  it('GET /ledger pages with after/limit and filters; bad queries are 400', async () => {
    const topic = `page.${uniqueSuffix()}`;
    await publishAll(topic, [{ i: 0 }, { i: 1 }, { i: 2 }]);
    await publishAll(`note.${uniqueSuffix()}`, [{ to: 'beta' }], 'beta');
    const first = (await (await h.api(`/ledger?topic=${topic}&limit=2`)).json()) as {
      entries: { seq: number; payload: { i: number } }[];
      next: number | null;
      head: number;
    };
    expect(first.entries.map((e) => e.payload.i)).toEqual([0, 1]);
    expect(first.next).toBe(first.entries[1]?.seq);
    const second = (await (await h.api(`/ledger?topic=${topic}&limit=2&after=${first.next}`)).json()) as {
      entries: { payload: { i: number } }[];
    };
    expect(second.entries.map((e) => e.payload.i)).toEqual([2]);
    const all = (await (await h.api('/ledger?after=0&limit=1000')).json()) as {
      entries: { seq: number; hash: string; prevHash: string }[];
    };
    expect(all.entries.map((e) => e.seq)).toEqual(all.entries.map((_, i) => i + 1));
    for (const e of all.entries)
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['seq', 'id', 'ts', 'topic', 'sender', 'payload', 'hash', 'prevHash']));
    const agent = (await (await h.api('/ledger?agent=beta&limit=100')).json()) as { entries: { sender: string; recipient?: string }[] };
    expect(agent.entries.length).toBeGreaterThan(0);
    expect(agent.entries.every((e) => e.sender === 'beta' || e.recipient === 'beta')).toBe(true);
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'after=-1', 'after=1e3', 'foo=1', 'limit=1&limit=2', 'topic=%20bad'])
      await rejected(`/ledger?${q}`, {}, 400, 'validation_failed');
  });

  it('GET /ledger/verify reports the chain', async () => {
    await publishAll(`verify.${uniqueSuffix()}`, [{ n: 1 }, { n: 2 }]);
    const res = await h.api('/ledger/verify');
    expect(res.status).toBe(200);
    const v = (await res.json()) as { ok: boolean; entries: number; head: string; firstBad: number | null };
    expect(v).toEqual({ ok: true, entries: (await h.ledger.head()).seq, head: (await h.ledger.head()).hash, firstBad: null });
  });

  it('POST /ledger/replay re-publishes a range marked replayOf; bad requests change nothing', async () => {
    const topic = `replay.${uniqueSuffix()}`;
    await publishAll(topic, [{ i: 0 }, { i: 1 }, { i: 2 }]);
    const page = (await (await h.api(`/ledger?topic=${topic}&limit=10`)).json()) as { entries: { seq: number; id: string }[] };
    const from = page.entries[0]?.seq as number;
    const to = page.entries.at(-1)?.seq as number;
    const head = (await h.ledger.head()).seq;
    const res = await h.api('/ledger/replay', json({ fromSeq: from, toSeq: to, topic }));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ count: 3 });
    await h.bus.idle();
    const after = (await (await h.api(`/ledger?after=${head}&limit=10`)).json()) as { entries: { replayOf?: number; id: string }[] };
    expect(after.entries.map((e) => e.replayOf)).toEqual(page.entries.map((e) => e.seq));
    expect(after.entries.every((e) => !page.entries.some((o) => o.id === e.id))).toBe(true);

    await rejected('/ledger/replay', json({ fromSeq: 5, toSeq: 2 }), 400, 'validation_failed');
    await rejected('/ledger/replay', json({ fromSeq: 1 }), 400, 'validation_failed');
    await rejected('/ledger/replay', json({ fromSeq: 1, toSeq: 2, everything: true }), 400, 'validation_failed');
    await rejected('/ledger/replay', json({ fromSeq: 1.5, toSeq: 2 }), 400, 'validation_failed');
    await rejected('/ledger/replay', json({ fromSeq: 0, toSeq: 1_000_000 }), 400, 'validation_failed');
    await rejected(
      '/ledger/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'nope' },
      400,
      'malformed_json',
    );
  });
});

describe('components', () => {
  it('GET /components lists all five; stop/start switch one and leave the rest', async () => {
    const list = (await (await h.api('/components')).json()) as { components: { name: string; running: boolean }[] };
    expect(list.components).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus'].map((name) => ({ name, running: true })));
    const stop = await h.api('/components/scheduler/stop', { method: 'POST' });
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ component: { name: 'scheduler', running: false } });
    const mid = (await (await h.api('/components')).json()) as { components: { name: string; running: boolean }[] };
    expect(mid.components.filter((c) => !c.running).map((c) => c.name)).toEqual(['scheduler']);
    const start = await h.api('/components/scheduler/start', json({}));
    expect(await start.json()).toEqual({ component: { name: 'scheduler', running: true } });
    await rejected('/components/database/stop', json({}), 400, 'validation_failed');
    await rejected('/components/runner/pause', json({}), 400, 'validation_failed');
    await rejected('/components/runner/stop', json({ now: true }), 400, 'validation_failed');
    await rejected('/components/runner/stop', { method: 'GET' }, 405, 'method_not_allowed');
  });
});

describe('routing', () => {
  it('unknown routes are 404, wrong methods 405 with Allow', async () => {
    await rejected('/nope', {}, 404, 'route_not_found');
    await rejected('/agents/alpha/pause/now', { method: 'POST' }, 404, 'route_not_found');
    const res = await h.api('/agents', { method: 'DELETE' });
    expect(res.headers.get('allow')).toBe('GET');
    await expectError(res, 405, 'method_not_allowed');
    await rejected('/agents/%E0%A4%A', {}, 400, 'validation_failed');
  });
});

describe('metrics and stream (shape; movement is in metrics.test.ts and e2e)', () => {
  it('GET /metrics is Prometheus text', async () => {
    const res = await h.api('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('# TYPE agent_cycles_total counter');
  });

  it('GET /events/stream streams ledger entries with id = seq and resumes after Last-Event-ID', async () => {
    await publishAll(`backlog.${uniqueSuffix()}`, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const head = (await h.ledger.head()).seq;
    const ctl = new AbortController();
    const res = await h.api('/events/stream?backlog=3', { signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = await readFrames(
      res,
      (fs) => fs.some((f) => f.event === 'metrics') && fs.filter((f) => f.event === 'envelope').length >= 4,
      async () => {
        await h.api('/events', json({ topic: 'stream.live', payload: { n: 1 } }));
      },
    );
    ctl.abort();
    const env = frames.filter((f) => f.event === 'envelope');
    expect(env.slice(0, 3).map((f) => Number(f.id))).toEqual([head - 2, head - 1, head]);
    expect(JSON.parse(env[3]?.data ?? '{}')).toMatchObject({ seq: head + 1, topic: 'stream.live', payload: { n: 1 } });
    const metrics = JSON.parse(frames.find((f) => f.event === 'metrics')?.data ?? '{}') as {
      agents: { name: string }[];
      ledger: { headSeq: number };
    };
    expect(metrics.agents.map((a) => a.name).sort()).toEqual(['alpha', 'beta']);

    const ctl2 = new AbortController();
    const resumed = await h.api('/events/stream', { signal: ctl2.signal, headers: { 'last-event-id': String(head - 1) } });
    const again = await readFrames(resumed, (fs) => fs.filter((f) => f.event === 'envelope').length >= 2);
    ctl2.abort();
    expect(
      again
        .filter((f) => f.event === 'envelope')
        .map((f) => Number(f.id))
        .slice(0, 2),
    ).toEqual([head, head + 1]);
    await rejected('/events/stream', { headers: { 'last-event-id': 'abc' } }, 400, 'validation_failed');
  });
});

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
}

/** Reads SSE frames from a streaming response until `done` holds. */
async function readFrames(res: Response, done: (f: Frame[]) => boolean, whenOpen?: () => Promise<unknown>): Promise<Frame[]> {
  const frames: Frame[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  let opened = false;
  while (!done(frames)) {
    const r = await reader.read();
    if (r.done) break;
    buf += dec.decode(r.value, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Frame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(': ');
        if (c < 0) continue;
        (f as Record<string, string>)[line.slice(0, c)] = line.slice(c + 2);
      }
      frames.push(f);
    }
    if (!opened && whenOpen) {
      opened = true;
      await whenOpen();
    }
  }
  await reader.cancel().catch(() => undefined);
  return frames;
}
