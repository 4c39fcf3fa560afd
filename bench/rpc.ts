/**
 * A unary gRPC call against its REST equivalent: `AgentsService/ListAgents` and `GET /agents`, on
 * the same API (bench/api.ts's fixture: 50 agents on DynamoDB Local, the local listener serving
 * HTTP/1.1 and h2c on one port), called from a SECOND process over loopback:
 *
 * - gRPC with @grpc/grpc-js over h2c (one HTTP/2 connection, requests multiplexed), the service
 *   definition loaded from proto/ at run time;
 * - Connect (unary, JSON over HTTP/1.1 keep-alive, plain fetch);
 * - REST `GET /agents` (fetch, HTTP/1.1 keep-alive).
 *
 * Each is measured one request at a time (latency without queueing) and with 8 requests in flight
 * (closed loop). Every call does the same work behind the transport (one registry Scan, one
 * heartbeat BatchGet); what differs is the framing and encoding (protobuf vs JSON).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startApiFixture } from './api';
import type { BenchResult } from './types';

export const repeat = 2;
const SECONDS_SINGLE = 4;
const SECONDS_LOADED = 4;
const IN_FLIGHT = 8;

/** The load generator (plain JS, a child process): mode, url, token, seconds, in flight, proto dir. */
const LOADER = `
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
const [mode, url, token, seconds, inflight, protoDir] = process.argv.slice(1);
let callOnce;
if (mode === 'grpc') {
  const dir = join(protoDir, 'agentorchestrator', 'v1');
  const def = protoLoader.loadSync(readdirSync(dir).map((f) => join(dir, f)), { includeDirs: [protoDir], longs: String, enums: String, defaults: true });
  const Svc = grpc.loadPackageDefinition(def).agentorchestrator.v1.AgentsService;
  const client = new Svc(url.replace(/^http:\\/\\//, ''), grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer ' + token);
  callOnce = () => new Promise((resolve, reject) => client.listAgents({}, md, (err, res) => (err ? reject(err) : resolve(res.agents.length))));
} else if (mode === 'connect') {
  callOnce = async () => {
    const res = await fetch(url + '/agentorchestrator.v1.AgentsService/ListAgents', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', 'connect-protocol-version': '1' },
      body: '{}',
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error('status ' + res.status);
    return body.agents.length;
  };
} else {
  callOnce = async () => {
    const res = await fetch(url + '/agents', { headers: { authorization: 'Bearer ' + token } });
    const body = await res.json();
    if (res.status !== 200) throw new Error('status ' + res.status);
    return body.agents.length;
  };
}
const lat = [];
let errors = 0;
let agents = 0;
// warm-up, not measured: a connection per request in flight, then 1 s of calls (JIT, caches)
await Promise.all(Array.from({ length: Number(inflight) }, () => callOnce()));
const warmUntil = performance.now() + 1000;
while (performance.now() < warmUntil) await callOnce();
const t0 = performance.now();
const until = t0 + Number(seconds) * 1000;
async function worker() {
  while (performance.now() < until) {
    const s = performance.now();
    try { agents = await callOnce(); } catch { errors++; }
    lat.push(performance.now() - s);
  }
}
await Promise.all(Array.from({ length: Number(inflight) }, worker));
const secondsTaken = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ n: lat.length, errors, agents, rps: lat.length / secondsTaken, p50: q(0.5), p99: q(0.99) }));
process.exit(0);
`;

interface LoadResult {
  n: number;
  errors: number;
  agents: number;
  rps: number;
  p50: number;
  p99: number;
}

type Mode = 'grpc' | 'connect' | 'rest';

function load(mode: Mode, url: string, token: string, seconds: number, inFlight: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = ['--input-type=module', '-e', LOADER, mode, url, token, String(seconds), String(inFlight), join(process.cwd(), 'proto')];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`${mode} load exited ${code}: ${err}`)),
    );
  });
}

const LABEL: Record<Mode, string> = {
  grpc: 'gRPC ListAgents (grpc-js, h2c)',
  connect: 'Connect ListAgents (JSON, HTTP/1.1)',
  rest: 'REST GET /agents (HTTP/1.1)',
};

export async function run(): Promise<BenchResult[]> {
  const api = await startApiFixture();
  try {
    const out: BenchResult[] = [];
    const r2 = (x: number) => Number(x.toFixed(2));
    const check = (mode: Mode, r: LoadResult) => {
      if (r.errors > 0) throw new Error(`${mode}: ${r.errors} failed calls`);
      if (r.agents !== 50) throw new Error(`${mode}: ${r.agents} agents listed, expected 50`);
    };
    for (const mode of ['grpc', 'rest', 'connect'] as const) {
      const r = await load(mode, api.url, api.token, SECONDS_SINGLE, 1);
      check(mode, r);
      out.push(
        { name: `${LABEL[mode]} p50, one at a time`, value: r2(r.p50), unit: 'ms', note: `50 agents, ${r.n} calls from a second process` },
        { name: `${LABEL[mode]} p99, one at a time`, value: r2(r.p99), unit: 'ms' },
      );
    }
    for (const mode of ['grpc', 'rest'] as const) {
      const r = await load(mode, api.url, api.token, SECONDS_LOADED, IN_FLIGHT);
      check(mode, r);
      out.push(
        {
          name: `${LABEL[mode]} p50, ${IN_FLIGHT} in flight`,
          value: r2(r.p50),
          unit: 'ms',
          note: `${r.n} calls, ${Math.round(r.rps)} calls/s`,
        },
        { name: `${LABEL[mode]} p99, ${IN_FLIGHT} in flight`, value: r2(r.p99), unit: 'ms' },
      );
    }
    return out;
  } finally {
    await api.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
