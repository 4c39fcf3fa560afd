/**
 * Property-based: random methods, paths, query strings, headers and bodies thrown at the API —
 * over the real local listener and, with more runs and raw events, at the handler directly.
 * Whatever arrives, the answer is never a 5xx, and every 4xx carries the error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { registration } from '../runtime/helpers';
import { createApiHandler } from '../../functions/api/app';
import { startApiHarness, type ApiHarness } from './harness';

let h: ApiHarness;
let handler: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  h = await startApiHarness({ maxBodyBytes: 4096 });
  handler = createApiHandler(h.deps);
  const now = Date.now();
  await h.registry.register(registration('alpha', { cycleSeconds: 10, firstRunAt: now + 10_000 }));
  await h.registry.register(registration('beta', { cycleSeconds: 30, firstRunAt: now + 30_000 }));
  for (let i = 0; i < 5; i++)
    await h.api('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'seed.t', payload: { i } }),
    });
});

afterAll(async () => {
  await h?.close();
});

const WORDS = [
  'agents',
  'alpha',
  'beta',
  'ghost',
  'pause',
  'resume',
  'trigger',
  'restart',
  'quarantine',
  'release',
  'metrics',
  'events',
  'stream',
  'ledger',
  'verify',
  'replay',
  'components',
  'scheduler',
  'runner',
  'bus',
  'manager',
  'monitor',
  'stop',
  'start',
  'healthz',
  'dashboard',
  'app.js',
  '',
  '..',
  '.',
  '%2F',
  '%00',
  '%E0%A4%A',
  '%ZZ',
  'Ü',
  'A-B',
  '%20',
];
const KNOWN = [
  '/',
  '/healthz',
  '/agents',
  '/agents/alpha',
  '/agents/ghost',
  '/agents/alpha/pause',
  '/agents/alpha/resume',
  '/agents/alpha/trigger',
  '/agents/alpha/restart',
  '/agents/alpha/quarantine',
  '/agents/alpha/release',
  '/metrics',
  '/events',
  '/events/stream',
  '/ledger',
  '/ledger/verify',
  '/ledger/replay',
  '/components',
  '/components/bus/stop',
  '/components/bus/start',
  '/dashboard/app.css',
];

const pathArb = fc.oneof(
  fc.constantFrom(...KNOWN),
  fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.webSegment()), { minLength: 0, maxLength: 5 }).map((s) => '/' + s.join('/')),
);
const queryArb = fc.oneof(
  fc.constant(''),
  fc.webQueryParameters(),
  fc
    .array(
      fc.tuple(
        fc.constantFrom('after', 'limit', 'topic', 'agent', 'backlog', 'x'),
        fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1e3', 'abc', '', '%00', '999999999999999999999', 'agent.cycle')),
      ),
      { maxLength: 4 },
    )
    .map((kv) => kv.map(([k, v]) => `${k}=${v}`).join('&')),
);
const bodyArb = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc
    .record(
      {
        topic: fc.oneof(fc.string(), fc.constantFrom('a.b', 'agent.cycle')),
        payload: fc.oneof(fc.object(), fc.jsonValue()),
        recipient: fc.option(fc.string()),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc
    .record(
      { fromSeq: fc.oneof(fc.integer(), fc.double()), toSeq: fc.oneof(fc.integer(), fc.double()), topic: fc.string() },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.constantFrom(
    '{}',
    '[]',
    'null',
    '{"a":',
    '\u0000',
    'x'.repeat(5000),
    JSON.stringify({ topic: 'a.b', payload: { s: 'y'.repeat(5000) } }),
  ),
);
const reqArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  path: pathArb,
  query: queryArb,
  body: bodyArb,
  contentType: fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/octet-stream',
    'application/vnd.x+json',
  ),
  auth: fc.constantFrom('valid', 'none', 'wrong', 'garbage'),
  lastEventId: fc.option(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 20 }))),
});
type Req = typeof reqArb extends fc.Arbitrary<infer T> ? T : never;

function authHeader(r: Req): string | undefined {
  if (r.auth === 'valid') return `Bearer ${h.token}`;
  if (r.auth === 'wrong') return `Bearer ${'0'.repeat(h.token.length)}`;
  if (r.auth === 'garbage') return 'Bearer \u00ff\u00fe ===';
  return undefined;
}

/** One request over the listener; a live event stream is cut after its headers. */
function send(r: Req): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const a = authHeader(r);
    if (a) headers.authorization = a;
    if (r.contentType) headers['content-type'] = r.contentType;
    if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
    if (r.lastEventId !== null) headers['last-event-id'] = r.lastEventId.replace(/[^\x20-\x7e]/g, '');
    const req = httpRequest(h.url + '/', { method: r.method, path: r.path + (r.query ? `?${r.query}` : ''), headers });
    req.on('response', (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) {
        req.destroy();
        return resolve({ status: res.statusCode ?? 0, type, body: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

function checkErrorShape(status: number, type: string, body: string, method: string) {
  expect(status).toBeGreaterThanOrEqual(200);
  expect(status).toBeLessThan(500);
  if (status >= 400 && method !== 'HEAD') {
    expect(type).toMatch(/^application\/json/);
    const parsed = JSON.parse(body) as { error: { code: unknown; message: unknown } };
    expect(typeof parsed.error.code).toBe('string');
    expect(typeof parsed.error.message).toBe('string');
  }
}

describe('random requests never produce a 5xx', () => {
  it('over the real local HTTP listener', async () => {
    await fc.assert(
      fc.asyncProperty(reqArb, async (r) => {
        const res = await send(r);
        checkErrorShape(res.status, res.type, res.body, r.method);
        if (r.auth !== 'valid' && !['/', '/healthz', '/dashboard/app.css'].includes(r.path) && res.status !== 413)
          expect([401, 404, 405, 400]).toContain(res.status);
      }),
      { numRuns: 250 },
    );
  });

  it('at the handler, with raw v2 events (base64 bodies, odd headers, missing fields)', async () => {
    const eventArb = fc.record({
      r: reqArb,
      base64: fc.boolean(),
      extraHeaders: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 50 }), { maxKeys: 4 }),
      drop: fc.constantFrom(null, 'headers', 'rawQueryString', 'body', 'requestContext'),
    });
    await fc.assert(
      fc.asyncProperty(eventArb, async ({ r, base64, extraHeaders, drop }) => {
        const headers: Record<string, string> = { ...extraHeaders };
        const a = authHeader(r);
        if (a) headers.authorization = a;
        if (r.contentType) headers['content-type'] = r.contentType;
        const event: Record<string, unknown> = {
          version: '2.0',
          routeKey: '$default',
          rawPath: r.path,
          rawQueryString: r.query,
          headers,
          body: r.body === undefined ? undefined : base64 ? Buffer.from(r.body).toString('base64') : r.body,
          isBase64Encoded: base64,
          requestContext: { http: { method: r.method, path: r.path, sourceIp: '127.0.0.1' }, requestId: 'x', timeEpoch: Date.now() },
        };
        if (drop) delete event[drop];
        if (r.path === '/events/stream' && r.method === 'GET') return; // one batch, covered over the listener
        const res = await handler(event as never);
        checkErrorShape(res.statusCode ?? 200, String(res.headers?.['content-type'] ?? ''), res.body ?? '', r.method);
      }),
      { numRuns: 600 },
    );
  });
});
