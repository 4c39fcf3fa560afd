/**
 * The REST API's OpenAPI 3.1 document, generated — never written by hand — from the route table
 * (shared/definitions/api.ts) and the zod schemas the handlers validate with (schemas.ts,
 * ROUTE_SCHEMAS), through zod's own JSON Schema output (`z.toJSONSchema`, JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1). Served at `GET /openapi.json`. The gRPC/Connect services are
 * described by their protobuf schema (proto/), not here.
 *
 * tests/api/openapi.test.ts validates it with an independent OpenAPI 3.1 validator and checks
 * that every REST route of the table is in it and nothing else is.
 */
import { z } from 'zod';
import { API_ROUTES, type RestRouteId, type RouteDef } from '../../shared/definitions/api';
import { ErrorBodySchema, ROUTE_SCHEMAS, type RouteSchemas } from './schemas';

type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 schema object (the request side: what a client sends). */
function schemaOf(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid path parameter, query or body (`validation_failed`, `malformed_json`, `invalid_ledger_request`, `reserved_topic`)',
  401: 'missing or invalid credentials (`unauthorized`)',
  404: 'unknown agent (`not_found`)',
  409: 'not allowed in the current status (`conflict`)',
  413: 'body or envelope over the limit (`payload_too_large`, `envelope_too_large`)',
  415: 'a body that is not JSON (`unsupported_media_type`)',
  500: 'internal error (`internal`, `component_switch_failed`, `ledger_corrupt`)',
  501: 'not available in this deployment (`not_configured`, `ledger_digests_not_configured`)',
  503: 'a dependency is unavailable; retry after `Retry-After` seconds (`unavailable`)',
};

const errorRef = (status: number) => ({ $ref: `#/components/responses/E${status}` });

function operation(route: RouteDef, s: RouteSchemas): JsonSchema {
  const parameters: JsonSchema[] = [];
  for (const [name, schema] of Object.entries(s.params ?? {}))
    parameters.push({ name, in: 'path', required: true, schema: schemaOf(schema, 'input') });
  const query = s.query ? (schemaOf(s.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] }) : null;
  for (const [name, schema] of Object.entries(query?.properties ?? {}))
    parameters.push({ name, in: 'query', required: query?.required?.includes(name) ?? false, schema });
  if (route.id === 'eventStream')
    parameters.push({ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-9]{1,16}$' } });

  const ok = s.ok.schema ? { [s.ok.type]: { schema: schemaOf(s.ok.schema, 'output') } } : { [s.ok.type]: { schema: { type: 'string' } } };
  const responses: Record<string, unknown> = { [String(s.ok.status)]: { description: 'success', content: ok } };
  if (route.id === 'agentAction') responses['202'] = { description: 'trigger: the run was dispatched', content: ok };
  const statuses = new Set([...s.errors, ...(route.public ? [] : [401]), 500, 503]);
  for (const st of [...statuses].sort()) responses[String(st)] = errorRef(st);

  return {
    operationId: route.id,
    summary: s.summary,
    ...(route.public ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(s.body
      ? { requestBody: { required: s.body.required, content: { 'application/json': { schema: schemaOf(s.body.schema, 'input') } } } }
      : {}),
    responses,
  };
}

let cached: JsonSchema | undefined;

/** The document (built once per process: it depends on nothing at run time). */
export function openApiDocument(): JsonSchema {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of API_ROUTES as readonly RouteDef[]) {
    if (r.kind === 'rpc') continue;
    const s: RouteSchemas = ROUTE_SCHEMAS[r.id as RestRouteId];
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method.toLowerCase()] = operation(r, s);
  }
  const errorResponses: Record<string, unknown> = {};
  for (const [st, text] of Object.entries(STATUS_TEXT))
    errorResponses[`E${st}`] = {
      description: text,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'Agent orchestrator control API',
      version: '1',
      description:
        'The REST surface of docs/contract.md. Local mode: bearer token; cloud: IAM (SigV4, service execute-api) or a JWT. ' +
        'Errors are {"error":{"code","message"}}. The same operations are gRPC/Connect services described by proto/.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { sigv4: [] }],
    paths,
    components: {
      schemas: { Error: schemaOf(ErrorBodySchema, 'output') },
      responses: errorResponses,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'local mode: the token in $AGENT_DATA_DIR/api-token; cloud with authMode=jwt: a JWT',
        },
        sigv4: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'cloud (default): AWS SigV4, service execute-api' },
      },
    },
  };
  return cached;
}
