/**
 * gRPC against `npm start` with an independent implementation: @grpc/grpc-js (Google's gRPC for
 * Node, its own HTTP/2 framing) with the service definitions loaded from proto/ at run time by
 * @grpc/proto-loader (no generated code of ours), as a Go or Python client would: every RPC over
 * h2c on the API port, a Subscribe stream receiving an envelope published through REST, a
 * metrics stream, UNAUTHENTICATED for a wrong or missing token. Then buf's CLI: the `buf curl`
 * block of docs/api.md, run as a user copies it (only the port and the data dir substituted).
 *
 * Whole-system file (vitest project `system`): it runs local mode as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { tempDir } from '../support/env';
import { killAllLocalModes, startLocalMode, waitFor, type LocalModeProcess } from '../support/local-process';

const PROTO_DIR = join(process.cwd(), 'proto');
const V1 = join(PROTO_DIR, 'agentorchestrator', 'v1');

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
type Unary = (req: unknown, md: grpc.Metadata, cb: Callback<Record<string, unknown>>) => void;
type Streaming = (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>;
type Client = grpc.Client & Record<string, Unary & Streaming>;

const data = tempDir('orch-grpc-');
let lm: LocalModeProcess;
let url: string;
let token: string;
let clients: Record<'agents' | 'bus' | 'ledger' | 'components' | 'metrics', Client>;

beforeAll(async () => {
  lm = startLocalMode({ dataDir: data.path });
  url = await lm.ready;
  token = lm.token();
  const def = protoLoader.loadSync(
    readdirSync(V1).map((f) => join(V1, f)),
    { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, oneofs: true },
  );
  const pkg = (grpc.loadPackageDefinition(def) as unknown as { agentorchestrator: { v1: Record<string, grpc.ServiceClientConstructor> } })
    .agentorchestrator.v1;
  const target = url.replace(/^http:\/\//, '');
  const make = (name: string) => new (pkg[name] as grpc.ServiceClientConstructor)(target, grpc.credentials.createInsecure()) as Client;
  clients = {
    agents: make('AgentsService'),
    bus: make('BusService'),
    ledger: make('LedgerService'),
    components: make('ComponentsService'),
    metrics: make('MetricsService'),
  };
  // the example agents registered on the first start
  await waitFor('the example agents registered', async () => {
    const r = await call(clients.agents, 'ListAgents', {});
    const names = (r.agents as { name: string }[]).map((a) => a.name);
    return names.includes('hello') && names.includes('echo') ? names : undefined;
  });
}, 240_000);

afterAll(() => {
  for (const c of Object.values(clients ?? {})) c.close();
  killAllLocalModes();
  data.cleanup();
});

function md(tk: string | null = token): grpc.Metadata {
  const m = new grpc.Metadata();
  if (tk !== null) m.set('authorization', `Bearer ${tk}`);
  return m;
}

function call(c: Client, method: string, req: unknown, tk: string | null = token): Promise<Record<string, unknown>> {
  const fn = c[method[0]!.toLowerCase() + method.slice(1)] as Unary;
  return new Promise((resolve, reject) => fn.call(c, req, md(tk), (err, res) => (err ? reject(err) : resolve(res))));
}

async function status(p: Promise<unknown>): Promise<grpc.status | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
}

/** google.protobuf.Struct in its message form (grpc-js has no JSON mapping) */
const struct = (o: Record<string, string | number | boolean>) => ({
  fields: Object.fromEntries(
    Object.entries(o).map(([k, v]) => [
      k,
      typeof v === 'string' ? { stringValue: v } : typeof v === 'number' ? { numberValue: v } : { boolValue: v },
    ]),
  ),
});

describe('@grpc/grpc-js against npm start (h2c on the API port)', () => {
  it('AgentsService: every method; errors carry the REST table’s gRPC codes', async () => {
    const list = await call(clients.agents, 'ListAgents', {});
    const hello = (list.agents as { name: string; status: string }[]).find((a) => a.name === 'hello');
    expect(hello?.status).toBe('AGENT_STATUS_ACTIVE');
    const got = await call(clients.agents, 'GetAgent', { name: 'hello' });
    expect((got.agent as { agent: { name: string }; sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);

    const statusOf = (r: Record<string, unknown>) => (r.agent as { status: string }).status;
    expect(statusOf(await call(clients.agents, 'PauseAgent', { name: 'echo' }))).toBe('AGENT_STATUS_PAUSED');
    expect(await status(call(clients.agents, 'PauseAgent', { name: 'echo' }))).toBe(grpc.status.FAILED_PRECONDITION);
    expect(statusOf(await call(clients.agents, 'ResumeAgent', { name: 'echo' }))).toBe('AGENT_STATUS_ACTIVE');
    const trig = await call(clients.agents, 'TriggerAgent', { name: 'echo' });
    expect(trig.runId).toMatch(/.+/);
    expect(statusOf(await call(clients.agents, 'RestartAgent', { name: 'echo' }))).toBe('AGENT_STATUS_ACTIVE');
    expect(statusOf(await call(clients.agents, 'QuarantineAgent', { name: 'echo' }))).toBe('AGENT_STATUS_QUARANTINED');
    expect(statusOf(await call(clients.agents, 'ReleaseAgent', { name: 'echo' }))).toBe('AGENT_STATUS_ACTIVE');

    expect(await status(call(clients.agents, 'GetAgent', { name: 'ghost' }))).toBe(grpc.status.NOT_FOUND);
    expect(await status(call(clients.agents, 'GetAgent', { name: 'Not A Name' }))).toBe(grpc.status.INVALID_ARGUMENT);
    // the same state through REST
    const rest = (await (await fetch(`${url}/agents/echo`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      status: string;
    };
    expect(rest.status).toBe('active');
  });

  it('BusService.Publish, LedgerService list/verify/replay, ComponentsService, MetricsService.GetMetrics', async () => {
    const topic = 'grpc.note';
    const pub = await call(clients.bus, 'Publish', { topic, payload: struct({ text: 'hi', n: 2 }), recipient: 'echo' });
    expect(pub.id).toMatch(/.+/);
    const entry = await waitFor('the published envelope in the ledger', async () => {
      const page = await call(clients.ledger, 'ListLedgerEntries', { topic, limit: 10 });
      return (page.entries as { seq: string; envelope: { id: string; sender: string } }[]).find((e) => e.envelope.id === pub.id);
    });
    expect(entry.envelope.sender).toBe('api');
    const v = await call(clients.ledger, 'VerifyLedger', {});
    expect(v.ok).toBe(true);
    const r = await call(clients.ledger, 'ReplayLedger', { fromSeq: entry.seq, toSeq: entry.seq });
    expect(r.count).toBe('1');
    expect(await status(call(clients.ledger, 'ReplayLedger', { fromSeq: '9', toSeq: '1' }))).toBe(grpc.status.INVALID_ARGUMENT);

    const comps = await call(clients.components, 'ListComponents', {});
    expect((comps.components as { name: string }[]).map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus']);
    expect((await call(clients.components, 'StopComponent', { name: 'monitor' })).component).toMatchObject({
      name: 'monitor',
      running: false,
    });
    expect((await call(clients.components, 'StartComponent', { name: 'monitor' })).component).toMatchObject({
      name: 'monitor',
      running: true,
    });

    const m = await call(clients.metrics, 'GetMetrics', {});
    const names = ((m.snapshot as { agents: { name: string }[] }).agents ?? []).map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'hello']));
  });

  it('Subscribe receives an envelope published through REST; StreamMetrics sends snapshots', async () => {
    const head = (await call(clients.ledger, 'ListLedgerEntries', { limit: 1 })).head as string;
    const topic = 'grpc.sub';
    const stream = (clients.bus.subscribe as Streaming).call(clients.bus, { topic, afterSeq: head }, md());
    const received = new Promise<Record<string, unknown>>((resolve, reject) => {
      stream.on('data', (msg: Record<string, unknown>) => resolve(msg));
      stream.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
    });
    const res = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ topic, payload: { via: 'rest' } }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const msg = await received;
    expect(msg.envelope).toMatchObject({ id, topic, sender: 'api' });
    expect((msg.envelope as { payload: { fields: Record<string, unknown> } }).payload.fields.via).toMatchObject({ stringValue: 'rest' });
    stream.cancel();

    const snaps: Record<string, unknown>[] = [];
    const metrics = (clients.metrics.streamMetrics as Streaming).call(clients.metrics, { intervalSeconds: 1 }, md());
    await new Promise<void>((resolve, reject) => {
      metrics.on('data', (s: Record<string, unknown>) => {
        snaps.push(s);
        if (snaps.length === 2) resolve();
      });
      metrics.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
    });
    metrics.cancel();
    expect(snaps.map((s) => (s.snapshot as { ledgerHeadSeq: string }).ledgerHeadSeq).every((x) => Number(x) > 0)).toBe(true);
  });

  it('a wrong or missing token is UNAUTHENTICATED, for unary calls and streams', async () => {
    for (const tk of ['wrong-token-0123456789abcdef', null]) {
      expect(await status(call(clients.agents, 'ListAgents', {}, tk))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await status(call(clients.agents, 'PauseAgent', { name: 'hello' }, tk))).toBe(grpc.status.UNAUTHENTICATED);
      const s = (clients.bus.subscribe as Streaming).call(clients.bus, {}, md(tk));
      const code = await new Promise<grpc.status>((resolve) => s.on('error', (e: grpc.ServiceError) => resolve(e.code)));
      expect(code).toBe(grpc.status.UNAUTHENTICATED);
    }
    const after = await call(clients.agents, 'GetAgent', { name: 'hello' });
    expect((after.agent as { agent: { status: string } }).agent.status).toBe('AGENT_STATUS_ACTIVE');
  });
});

describe('buf curl, as docs/api.md shows it', () => {
  it('the documented command lists the agents over gRPC (h2c)', async () => {
    const doc = readFileSync(join(process.cwd(), 'docs', 'api.md'), 'utf8');
    const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.includes('buf curl'));
    expect(block, 'a sh block with buf curl in docs/api.md').toBeDefined();
    const port = new URL(url).port;
    const command = (block as string).replaceAll('.agent-data/', `${data.path}/`).replaceAll('127.0.0.1:8787', `127.0.0.1:${port}`);
    expect(command).toContain('--protocol grpc --http2-prior-knowledge');
    const { stdout } = await promisify(execFile)('bash', ['-c', command], { cwd: process.cwd(), timeout: 120_000 });
    const out = JSON.parse(stdout) as { agents: { name: string; status: string }[] };
    expect(out.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['echo', 'hello']));
    expect(out.agents.every((a) => a.status.startsWith('AGENT_STATUS_'))).toBe(true);
  });
});
