/**
 * agentctl's operator commands as a user runs them (a real `node bin/agentctl.mjs` process)
 * against the API on a real local listener: output, effects, and the contract's exit codes
 * (0 ok, 1 failed operation, 2 usage error); the token from AGENT_API_TOKEN or from the local
 * data dir; IAM (SigV4) signing checked by recomputing the signature on the receiving side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, awsHostInfo, routeUrl } from '../../cli/api-client';
import { main } from '../../cli/agentctl';
import { endpointsFile, tokenFile } from '../../shared/definitions/local-data';
import { registration } from '../runtime/helpers';
import { tempDir, uniqueSuffix } from '../support/env';
import { startApiHarness, type ApiHarness } from './harness';

let h: ApiHarness;
const dir = tempDir('orch-ops-');

beforeAll(async () => {
  h = await startApiHarness();
  const now = Date.now();
  await h.registry.register(registration('worker', { cycleSeconds: 15, firstRunAt: now + 15_000 }));
  await h.registry.register(registration('helper', { cycleSeconds: 60, firstRunAt: now + 60_000 }));
});

afterAll(async () => {
  await h?.close();
  dir.cleanup();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * agentctl's own entry (`main` of cli/agentctl.ts, what bin/agentctl.mjs calls) in this process:
 * same parsing, client and exit codes, without ~2 s of process start-up per command. The
 * commands whose process matters (the bin itself, signals, the AWS credential chain, which reads
 * the process environment) run as real processes (`agentctl`).
 */
async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ...process.env, AGENT_DATA_DIR: join(dir.path, 'none'), AGENT_API_URL: h.url, AGENT_API_TOKEN: h.token, ...env },
  });
  return { code, stdout, stderr };
}

/** Publishes envelopes through the API and waits until the ledger has them (the bus is asynchronous). */
async function publish(topic: string, payloads: Record<string, unknown>[]): Promise<void> {
  for (const payload of payloads) {
    const res = await h.api('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, payload }),
    });
    expect(res.status).toBe(202);
  }
  await h.bus.idle();
}

/** Runs the real agentctl process asynchronously (the API under test lives in this process). */
function agentctl(
  args: string[],
  env: Record<string, string | undefined> = {},
  opts: { until?: (out: string) => boolean; thenSignal?: NodeJS.Signals } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/agentctl.mjs', ...args], {
      env: { ...process.env, AGENT_DATA_DIR: join(dir.path, 'none'), AGENT_API_URL: h.url, AGENT_API_TOKEN: h.token, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.until && !signalled && opts.until(stdout)) {
        signalled = true;
        child.kill(opts.thenSignal ?? 'SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('agentctl operator commands', () => {
  it('agents prints a table of the agents', async () => {
    const r = await agentctl(['agents']); // the real bin
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+STATUS\s+CYCLE\s+LAST HEARTBEAT\s+NEXT RUN\s+ERRORS\s+RESTARTS\s+LAST ERROR$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['helper', '1.0.0', 'active', '60s'],
      ['worker', '1.0.0', 'active', '15s'],
    ]);
    const json = await run(['agents', '--json']);
    expect(JSON.parse(json.stdout).agents).toHaveLength(2);
  });

  it('pause / resume / trigger / restart / quarantine / release act through the API', async () => {
    const pause = await run(['pause', 'worker']);
    expect(pause).toMatchObject({ code: 0, stdout: 'paused worker (status paused)\n' });
    expect((await h.registry.get('worker'))?.status).toBe('paused');
    const trig = await run(['trigger', 'worker']);
    expect(trig.code).toBe(0);
    expect(trig.stdout).toMatch(/^triggered worker \(status paused\), run worker!trigger!/);
    expect(h.dispatcher.items.at(-1)?.message).toMatchObject({ kind: 'trigger', agent: 'worker' });
    expect((await run(['resume', 'worker'])).stdout).toBe('resumed worker (status active)\n');
    expect((await run(['restart', 'worker'])).stdout).toBe('restarted worker (status active)\n');
    expect((await run(['quarantine', 'worker'])).stdout).toBe('quarantined worker (status quarantined)\n');
    expect((await run(['release', 'worker'])).stdout).toBe('released worker (status active)\n');
    expect((await h.registry.get('worker'))?.status).toBe('active');
  });

  it('failed operations exit 1 with the API error on stderr', async () => {
    const ghost = await agentctl(['pause', 'ghost']); // real process: exit code 1
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/404 not_found: agent ghost not found/);
    const twice = await run(['release', 'helper']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/409 conflict/);
    const badToken = await run(['agents'], { AGENT_API_TOKEN: 'x'.repeat(48) });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/401 unauthorized/);
    const down = await run(['agents'], { AGENT_API_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the API at http:\/\/127\.0\.0\.1:9/);
  });

  it('usage errors exit 2', async () => {
    expect((await agentctl(['pause'])).code).toBe(2); // real process: exit code 2
    for (const args of [
      ['pause'],
      ['pause', 'Bad_Name'],
      ['pause', 'a-b', 'c-d'],
      ['ledger'],
      ['ledger', 'rewrite'],
      ['ledger', 'tail', '-n', 'ten'],
      ['agents', '--bogus'],
      ['frobnicate'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
    expect((await run(['agents'], { AGENT_API_URL: 'not a url' })).code).toBe(2);
  });

  it('ledger verify and ledger tail', async () => {
    const topic = `tail.${uniqueSuffix()}`;
    await publish(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect((await run(['pause', 'helper'])).code).toBe(0);
    expect((await run(['resume', 'helper'])).code).toBe(0);
    await h.bus.idle();
    const v = await run(['ledger', 'verify']);
    expect(v.code).toBe(0);
    const head = await h.ledger.head();
    expect(v.stdout).toBe(`ledger ok: ${head.seq} entries, head ${head.hash}\n`);
    const tail = await run(['ledger', 'tail', '-n', '3']);
    expect(tail.code).toBe(0);
    const lines = tail.stdout.trim().split('\n');
    expect(lines.map((l) => Number(/^#(\d+) /.exec(l)?.[1]))).toEqual([head.seq - 2, head.seq - 1, head.seq]);
    expect(lines.slice(1).map((l) => l.split(' ').slice(2, 4).join(' '))).toEqual([
      'agent.paused orchestrator',
      'agent.resumed orchestrator',
    ]);
    expect(lines.at(-1)).toMatch(/ agent\.resumed orchestrator \{.*"name":"helper"/);
    // a topic filter walks back past newer entries: the last two of the three
    const filtered = await run(['ledger', 'tail', '-n', '2', '--topic', topic]);
    expect(filtered.code).toBe(0);
    expect(
      filtered.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^#\d+ \S+ /, '')),
    ).toEqual([`${topic} api {"n":2}`, `${topic} api {"n":3}`]);
  });

  it('ledger tail --follow prints new entries as they are appended, until interrupted', async () => {
    await publish('follow.seed', [{ seed: true }]); // something for the tail to print before following
    const marker = `follow-${Date.now()}`;
    let published = false;
    // publish once the client has printed its tail (it is attached), stop it once it printed the new entry
    const r = await agentctl(
      ['ledger', 'tail', '-n', '1', '--follow'],
      {},
      {
        until: (out) => {
          if (!published && out.includes('\n')) {
            published = true;
            void h.api('/events', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ topic: 'follow.test', payload: { marker } }),
            });
          }
          return out.includes(marker);
        },
      },
    );
    expect(r.stdout.split('\n')[0]).not.toContain(marker);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`follow\\.test api \\{"marker":"${marker}"\\}`));
  });

  it('without AGENT_API_URL/TOKEN, uses the running local mode (endpoints.json and the token file)', async () => {
    const data = join(dir.path, 'local');
    mkdirSync(data, { recursive: true });
    writeFileSync(
      endpointsFile(data),
      JSON.stringify({ api: h.url, s3: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:1', bucket: 'b', pid: process.pid }),
    );
    writeFileSync(tokenFile(data), h.token + '\n');
    const r = await run(['agents'], { AGENT_DATA_DIR: data, AGENT_API_URL: undefined, AGENT_API_TOKEN: undefined });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^helper /m);
    const none = await run(['agents'], { AGENT_DATA_DIR: join(dir.path, 'empty'), AGENT_API_URL: undefined, AGENT_API_TOKEN: undefined });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/local mode is not running/);
  });
});

describe('IAM (SigV4) signing', () => {
  it('--iam signs with the standard credentials; the receiver recomputes the same signature', async () => {
    const seen: { req: IncomingMessage; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ req, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url?.startsWith('/prod/agents/') ? { agent: { status: 'paused' } } : { agents: [] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
    const creds = {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'session-token-1',
      AWS_REGION: 'eu-west-1',
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: join(dir.path, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'none'),
    };
    try {
      const list = await agentctl(['agents', '--iam', '--api', url], { AGENT_API_TOKEN: undefined, ...creds });
      expect(list).toMatchObject({ code: 0, stdout: 'no agents registered\n' });
      const pause = await agentctl(['pause', 'worker', '--iam', '--api', url], { AGENT_API_TOKEN: undefined, ...creds });
      expect(pause.code).toBe(0);
      expect(seen.map((s) => `${s.req.method} ${s.req.url}`)).toEqual(['GET /prod/agents', 'POST /prod/agents/worker/pause']);
      for (const { req, body } of seen) {
        const auth = String(req.headers.authorization);
        expect(auth).toMatch(
          /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
        );
        expect(req.headers['x-amz-security-token']).toBe('session-token-1');
        // the signer hashes the payload into the signed x-amz-content-sha256 header
        expect(req.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
        expect(auth).toMatch(/SignedHeaders=[a-z0-9;-]*x-amz-content-sha256/);
        // recompute: same request, same time, same credentials → same signature
        const signedHeaders = (/SignedHeaders=([^,]+)/.exec(auth)?.[1] ?? '').split(';');
        const headers: Record<string, string> = {};
        for (const n of signedHeaders) headers[n] = String(req.headers[n]);
        const amzDate = String(req.headers['x-amz-date']);
        const signer = new SignatureV4({
          service: 'execute-api',
          region: 'eu-west-1',
          credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: creds.AWS_SECRET_ACCESS_KEY, sessionToken: 'session-token-1' },
          sha256: NodeSha256,
        });
        const u = new URL(`http://${req.headers.host}${req.url}`);
        const again = await signer.sign(
          {
            method: req.method ?? 'GET',
            protocol: 'http:',
            hostname: u.hostname,
            port: Number(u.port),
            path: u.pathname,
            query: {},
            headers,
            ...(body ? { body } : {}),
          },
          {
            signingDate: new Date(
              `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
            ),
          },
        );
        expect(again.headers.authorization).toBe(auth);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('derives region and service from API Gateway and function URL hosts; keeps a stage path', () => {
    expect(awsHostInfo('abc123.execute-api.eu-central-1.amazonaws.com')).toEqual({ region: 'eu-central-1', service: 'execute-api' });
    expect(awsHostInfo('xyz.lambda-url.us-west-2.on.aws')).toEqual({ region: 'us-west-2', service: 'lambda' });
    expect(awsHostInfo('example.com')).toBeNull();
    expect(routeUrl(new URL('https://x.example/prod/'), '/agents?x=1').href).toBe('https://x.example/prod/agents?x=1');
  });
});
