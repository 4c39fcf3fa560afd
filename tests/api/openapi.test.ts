/**
 * `GET /openapi.json`: the OpenAPI 3.1 document generated from the route table and the zod
 * schemas the handlers validate with (functions/api/openapi.ts). Checked here by an independent
 * validator (@seriousme/openapi-schema-validator: the official OpenAPI 3.1 JSON schema), against
 * the route table both ways (every REST route is in it, nothing else is), and against real
 * responses of the real handler on DynamoDB Local.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { API_ROUTES, type RestRouteId, type RouteDef } from '../../shared/definitions/api';
import { ROUTE_SCHEMAS, type RouteSchemas } from '../../functions/api/schemas';
import { registration } from '../runtime/helpers';
import { startApiHarness, type ApiHarness } from './harness';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[]; security?: unknown[] }>>;
};

let h: ApiHarness;
let doc: Doc;

beforeAll(async () => {
  h = await startApiHarness();
  await h.registry.register(registration('alpha', { cycleSeconds: 10, firstRunAt: Date.now() + 10_000 }));
  const res = await fetch(`${h.url}/openapi.json`); // public: no token
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Doc;
});

afterAll(async () => {
  await h?.close();
});

const REST = (API_ROUTES as readonly RouteDef[]).filter((r) => r.kind !== 'rpc');

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (independent validator)', async () => {
    type Spec = Parameters<Validator['validate']>[0];
    const v = new Validator();
    const res = await v.validate(structuredClone(doc) as unknown as Spec);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(v.version).toBe('3.1');
    // the validator does reject a broken document (a response that is not an object)
    const broken = structuredClone(doc);
    (broken.paths['/agents'] as Record<string, unknown>).get = { responses: { '200': 'ok' } };
    expect((await new Validator().validate(broken as unknown as Spec)).valid).toBe(false);
  });

  it('has exactly the REST routes of the route table, with their path parameters', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(REST.map((r) => `${r.method} ${r.path}`).sort());
    for (const r of REST) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op?.operationId).toBe(r.id);
      const want = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(
        (op?.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        r.id,
      ).toEqual(want);
      // public routes say so; the others inherit the document's security
      expect(op?.security, r.id).toEqual(r.public ? [] : undefined);
    }
    // and the RPC routes are described by proto/, not here
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/agentorchestrator.'))).toBe(false);
  });

  it('describes what the handler answers: real responses match the documented schemas', async () => {
    await h.api('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'doc.check', payload: { a: 1 }, recipient: 'alpha' }),
    });
    await h.bus.idle();
    const calls: [RestRouteId, string, RequestInit?][] = [
      ['health', '/healthz'],
      ['listAgents', '/agents'],
      ['listAgents', '/agents?limit=1'],
      ['agentSummary', '/agents/summary'],
      ['getAgent', '/agents/alpha'],
      ['ledger', '/ledger?limit=5'],
      ['verifyLedger', '/ledger/verify'],
      ['listComponents', '/components'],
      ['agentAction', '/agents/alpha/pause', { method: 'POST' }],
      ['componentAction', '/components/bus/stop', { method: 'POST' }],
      ['publish', '/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"t","payload":{}}' }],
      ['replay', '/ledger/replay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"fromSeq":1,"toSeq":1}' }],
    ];
    for (const [id, path, init] of calls) {
      const res = await h.api(path, init);
      const spec: RouteSchemas = ROUTE_SCHEMAS[id];
      expect(res.status, id).toBe(spec.ok.status);
      expect(res.headers.get('content-type'), id).toContain(spec.ok.type);
      const body = await res.json();
      const r = spec.ok.schema?.safeParse(body);
      expect(r?.success, `${id}: ${JSON.stringify(r?.error?.issues)}`).toBe(true);
    }
    await h.api('/components/bus/start', { method: 'POST' });
  });
});
