/**
 * The gRPC/Connect services (proto/agentorchestrator/v1, functions/api/rpc/) on the API harness
 * (DynamoDB Local, the real local listener, the real control core), called with ConnectRPC's
 * own clients over each protocol the local port speaks: gRPC over h2c, Connect and gRPC-Web over
 * HTTP/1.1. Every unary RPC answers what the REST route answers (the same operation behind
 * both); errors carry the gRPC code of the REST error table; the token is checked.
 *
 * The independent check (a different gRPC implementation, @grpc/grpc-js, against `npm start`) is
 * tests/api/grpc.test.ts; the cloud carrier (API Gateway events, the streaming function) is
 * tests/api/rpc-cloud.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { AgentsService, AgentStatus } from '../../shared/gen/agentorchestrator/v1/agents_pb';
import { BusService } from '../../shared/gen/agentorchestrator/v1/bus_pb';
import { ComponentsService } from '../../shared/gen/agentorchestrator/v1/components_pb';
import { LedgerService } from '../../shared/gen/agentorchestrator/v1/ledger_pb';
import { MetricsService } from '../../shared/gen/agentorchestrator/v1/metrics_pb';
import { registration } from '../runtime/helpers';
import { startApiHarness, stateOf, type ApiHarness } from './harness';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness();
  const now = Date.now();
  await h.registry.register(registration('alpha', { cycleSeconds: 10, firstRunAt: now + 10_000 }));
  await h.registry.register(registration('beta', { cycleSeconds: 60, firstRunAt: now + 60_000 }));
});

afterAll(async () => {
  await h?.close();
});

const auth = (token: string | null) =>
  token === null
    ? []
    : [
        (next: Parameters<NonNullable<Parameters<typeof createConnectTransport>[0]['interceptors']>[number]>[0]) =>
          async (req: Parameters<typeof next>[0]) => {
            req.header.set('authorization', `Bearer ${token}`);
            return next(req);
          },
      ];

const transports: Record<string, (token: string | null) => Transport> = {
  'gRPC (h2c)': (token) => createGrpcTransport({ baseUrl: h.url, interceptors: auth(token) }),
  'Connect (HTTP/1.1)': (token) => createConnectTransport({ baseUrl: h.url, httpVersion: '1.1', interceptors: auth(token) }),
  'gRPC-Web (HTTP/1.1, JSON)': (token) =>
    createGrpcWebTransport({ baseUrl: h.url, httpVersion: '1.1', useBinaryFormat: false, interceptors: auth(token) }),
};

async function codeOf(p: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe.each(Object.entries(transports))('%s', (_name, transport) => {
  let agents: Client<typeof AgentsService>;
  let ledger: Client<typeof LedgerService>;
  let components: Client<typeof ComponentsService>;
  let bus: Client<typeof BusService>;
  let metrics: Client<typeof MetricsService>;
  beforeAll(() => {
    const t = transport(h.token);
    agents = createClient(AgentsService, t);
    ledger = createClient(LedgerService, t);
    components = createClient(ComponentsService, t);
    bus = createClient(BusService, t);
    metrics = createClient(MetricsService, t);
  });

  it('ListAgents and GetAgent answer what GET /agents and GET /agents/{name} answer', async () => {
    const rest = (await (await h.api('/agents')).json()) as { agents: { name: string; status: string; cycleSeconds: number }[] };
    const rpc = await agents.listAgents({});
    expect(rpc.agents.map((a) => [a.name, a.status, a.cycleSeconds])).toEqual(
      rest.agents.map((a) => [a.name, AgentStatus[a.status.toUpperCase() as 'ACTIVE'], a.cycleSeconds]),
    );
    const one = await agents.getAgent({ name: 'alpha' });
    const restOne = (await (await h.api('/agents/alpha')).json()) as { sha256: string; generation: number };
    expect(one.agent?.agent?.name).toBe('alpha');
    expect(one.agent?.sha256).toBe(restOne.sha256);
    expect(one.agent?.generation).toBe(BigInt(restOne.generation));
    expect(await codeOf(agents.getAgent({ name: 'ghost' }))).toBe(Code.NotFound);
    expect(await codeOf(agents.getAgent({ name: 'Not A Name' }))).toBe(Code.InvalidArgument);
  });

  it('the six actions change the agent as the REST actions do; a disallowed one is FAILED_PRECONDITION and changes nothing', async () => {
    expect((await agents.pauseAgent({ name: 'beta' })).agent?.status).toBe(AgentStatus.PAUSED);
    const before = await stateOf(h);
    expect(await codeOf(agents.pauseAgent({ name: 'beta' }))).toBe(Code.FailedPrecondition);
    expect(await stateOf(h)).toEqual(before);
    expect((await agents.resumeAgent({ name: 'beta' })).agent?.status).toBe(AgentStatus.ACTIVE);
    const trig = await agents.triggerAgent({ name: 'beta' });
    expect(trig.runId).toMatch(/.+/);
    expect(h.dispatcher.items.some((m) => m.message.runId === trig.runId)).toBe(true);
    expect((await agents.restartAgent({ name: 'beta' })).agent?.status).toBe(AgentStatus.ACTIVE);
    expect((await agents.quarantineAgent({ name: 'beta' })).agent?.status).toBe(AgentStatus.QUARANTINED);
    expect((await agents.releaseAgent({ name: 'beta' })).agent?.status).toBe(AgentStatus.ACTIVE);
    expect(await codeOf(agents.releaseAgent({ name: 'ghost' }))).toBe(Code.NotFound);
  });

  it('Publish puts an envelope on the bus (sender api); the ledger lists, verifies and replays it', async () => {
    const topic = `rpc.t${Math.random().toString(36).slice(2, 8)}`;
    const { id } = await bus.publish({ topic, payload: { n: 1, s: 'x', nested: { ok: true } }, recipient: 'alpha' });
    await h.bus.idle();
    const page = await ledger.listLedgerEntries({ topic });
    expect(page.entries).toHaveLength(1);
    const e = page.entries[0];
    expect(e?.envelope).toMatchObject({ id, topic, sender: 'api', recipient: 'alpha', payload: { n: 1, s: 'x', nested: { ok: true } } });
    expect(page.head).toBeGreaterThanOrEqual(e?.seq ?? 0n);
    const rest = (await (await h.api(`/ledger?topic=${topic}`)).json()) as { entries: { seq: number; hash: string }[] };
    expect(rest.entries.map((x) => [BigInt(x.seq), x.hash])).toEqual(page.entries.map((x) => [x.seq, x.hash]));

    const v = await ledger.verifyLedger({});
    const restV = (await (await h.api('/ledger/verify')).json()) as { ok: boolean; head: string };
    expect(v.ok).toBe(true);
    expect(v.head).toBe(restV.head);
    expect(v.firstBad).toBeUndefined();

    const seq = e?.seq ?? 0n;
    expect((await ledger.replayLedger({ fromSeq: seq, toSeq: seq })).count).toBe(1n);
    await h.bus.idle();
    const replayed = await ledger.listLedgerEntries({ topic, after: seq });
    expect(replayed.entries[0]?.envelope?.replayOf).toBe(seq);

    expect(await codeOf(bus.publish({ topic: 'no spaces', payload: {} }))).toBe(Code.InvalidArgument);
    // the orchestrator's own topics are not the API's to publish (issue #10, item 5)
    const reserved = await bus.publish({ topic: 'agent.failed', payload: { name: 'alpha' } }).catch((e: unknown) => e);
    expect(reserved).toBeInstanceOf(ConnectError);
    expect((reserved as ConnectError).code).toBe(Code.InvalidArgument);
    expect((reserved as ConnectError).metadata.get('error-code')).toBe('reserved_topic');
    expect(await codeOf(ledger.replayLedger({ fromSeq: 5n, toSeq: 1n }))).toBe(Code.InvalidArgument);
    expect(await codeOf(ledger.listLedgerEntries({ limit: 5000 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(bus.publish({ topic: 'big', payload: { s: 'x'.repeat(270_000) } }))).toBe(Code.ResourceExhausted);
  });

  it('components: list, stop and start one', async () => {
    const list = await components.listComponents({});
    expect(list.components.map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus']);
    expect((await components.stopComponent({ name: 'scheduler' })).component).toMatchObject({ name: 'scheduler', running: false });
    expect((await components.startComponent({ name: 'scheduler' })).component).toMatchObject({ name: 'scheduler', running: true });
    expect(await codeOf(components.stopComponent({ name: 'nope' }))).toBe(Code.InvalidArgument);
  });

  it('GetMetrics and StreamMetrics send snapshots; Subscribe streams envelopes published through REST', async () => {
    const snap = (await metrics.getMetrics({})).snapshot;
    expect(snap?.agents.map((a) => a.name)).toEqual(['alpha', 'beta']);
    expect(snap?.durationBoundsMs.length).toBe(snap?.agents[0]?.durationBuckets.length);

    const ctl = new AbortController();
    const got: bigint[] = [];
    for await (const m of metrics.streamMetrics({ intervalSeconds: 1 }, { signal: ctl.signal })) {
      got.push(m.snapshot?.ledgerHeadSeq ?? -1n);
      if (got.length === 2) break;
    }
    ctl.abort();
    expect(got).toHaveLength(2);

    const topic = `sub.t${Math.random().toString(36).slice(2, 8)}`;
    // from the head now: the stream's request may reach the server after the publish below
    const { head } = await ledger.listLedgerEntries({ limit: 1 });
    const sub = new AbortController();
    const stream = bus.subscribe({ topic, afterSeq: head }, { signal: sub.signal });
    const it = stream[Symbol.asyncIterator]();
    const first = it.next();
    // published through REST
    const res = await h.api('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, payload: { via: 'rest' } }),
    });
    const { id } = (await res.json()) as { id: string };
    const msg = await first;
    expect(msg.done).toBe(false);
    expect(msg.value?.envelope).toMatchObject({ id, topic, sender: 'api', payload: { via: 'rest' } });
    sub.abort();
    await it.return?.();
  });
});

describe('authentication', () => {
  it.each(Object.entries(transports))('%s: no token or a wrong one is UNAUTHENTICATED and reaches nothing', async (_n, transport) => {
    const before = await stateOf(h);
    for (const token of [null, 'wrong-token-0123456789abcdef']) {
      const agents = createClient(AgentsService, transport(token));
      expect(await codeOf(agents.listAgents({}))).toBe(Code.Unauthenticated);
      expect(await codeOf(agents.pauseAgent({ name: 'alpha' }))).toBe(Code.Unauthenticated);
      const bus = createClient(BusService, transport(token));
      expect(await codeOf(bus.subscribe({})[Symbol.asyncIterator]().next())).toBe(Code.Unauthenticated);
    }
    expect(await stateOf(h)).toEqual(before);
  });
});
