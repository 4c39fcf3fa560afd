/**
 * Request/response plumbing shared by the API handler and the streaming handler: the v2 event
 * schema, header and body access with the size limit, JSON responses and the error mapping.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { z } from 'zod';
import { type OrchestratorError, ValidationError } from '../../shared/core/errors';
import { LastEventIdSchema, StreamQuerySchema } from './schemas';
import { errorMapping, MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors';

/** Default request body limit: a 256 KB envelope payload plus the JSON around it. */
export const DEFAULT_MAX_BODY_BYTES = 300 * 1024;

export type ApiResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string> };

/** The parts of an HTTP API (payload v2) event the API reads, validated at the boundary. */
export const ApiEventSchema = z.object({
  rawPath: z.string().max(8192),
  rawQueryString: z.string().max(16384).default(''),
  headers: z.record(z.string(), z.string().optional()).default({}),
  body: z.string().optional().nullable(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.looseObject({
    http: z.looseObject({ method: z.string().min(1).max(16), path: z.string().optional(), sourceIp: z.string().optional() }),
    requestId: z.string().optional(),
    /** present when API Gateway / the function URL authorized the request (IAM or JWT) */
    authorizer: z.unknown().optional(),
  }),
});
export type ApiEvent = z.infer<typeof ApiEventSchema>;

export function parseApiEvent(event: APIGatewayProxyEventV2 | unknown): ApiEvent {
  const r = ApiEventSchema.safeParse(event);
  if (!r.success) throw new ValidationError(`not an HTTP API v2 event: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** Header value by (case-insensitive) name; API Gateway lowercases names, local/http.ts too. */
export function header(ev: ApiEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  const v = ev.headers[lower];
  if (v !== undefined) return v;
  for (const [k, val] of Object.entries(ev.headers)) if (k.toLowerCase() === lower) return val;
  return undefined;
}

/** The raw body bytes, enforcing the size limit (413) before anything looks at the content. */
export function bodyBytes(ev: ApiEvent, maxBytes: number): Buffer {
  if (ev.body === undefined || ev.body === null || ev.body === '') return Buffer.alloc(0);
  // a base64 string is 4/3 of its bytes: reject on the string length before decoding a huge one
  const approx = ev.isBase64Encoded ? Math.floor((ev.body.length * 3) / 4) : Buffer.byteLength(ev.body, 'utf8');
  if (approx > maxBytes + 3) throw new PayloadTooLargeError(approx, maxBytes);
  const bytes = ev.isBase64Encoded ? Buffer.from(ev.body, 'base64') : Buffer.from(ev.body, 'utf8');
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(bytes.length, maxBytes);
  return bytes;
}

/**
 * Parses the JSON body against a strict schema. An empty body is `{}` when `emptyAllowed`
 * (action routes with an optional body). Non-JSON content types are refused (415).
 */
export function jsonBody<S extends z.ZodType>(ev: ApiEvent, schema: S, maxBytes: number, emptyAllowed = false): z.infer<S> {
  const bytes = bodyBytes(ev, maxBytes);
  let value: unknown;
  if (bytes.length === 0) {
    if (!emptyAllowed) throw new MalformedJsonError('a JSON body is required');
    value = {};
  } else {
    const type = header(ev, 'content-type');
    if (type !== undefined && !/^application\/([a-z0-9.+-]+\+)?json\s*(;.*)?$/i.test(type.trim()))
      throw new UnsupportedMediaTypeError(type.slice(0, 100));
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new MalformedJsonError('body is not valid UTF-8');
    }
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new MalformedJsonError(`body is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedJsonError('body must be a JSON object');
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid body: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** Query string as a plain object; a repeated parameter is an error (ambiguous). */
export function queryParams(ev: ApiEvent): Record<string, string> {
  const out: Record<string, string> = {};
  if (!ev.rawQueryString) return out;
  for (const [k, v] of new URLSearchParams(ev.rawQueryString)) {
    if (Object.hasOwn(out, k)) throw new ValidationError(`query parameter ${JSON.stringify(k.slice(0, 64))} is repeated`);
    out[k] = v;
  }
  return out;
}

export function parseQuery<S extends z.ZodType>(ev: ApiEvent, schema: S): z.infer<S> {
  const r = schema.safeParse(queryParams(ev));
  if (!r.success) throw new ValidationError(`invalid query: ${z.prettifyError(r.error)}`);
  return r.data;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

export function json(statusCode: number, body: unknown, extra: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS, ...extra },
    body: JSON.stringify(body),
  };
}

export function text(statusCode: number, body: string, contentType: string, extra: Record<string, string> = {}): ApiResult {
  return { statusCode, headers: { 'content-type': contentType, ...SECURITY_HEADERS, ...extra }, body };
}

/** HTTP status of an error: the entry of its class in ERROR_STATUS (functions/api/errors.ts). */
export function statusOf(e: unknown): number {
  return errorMapping(e).status;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** seconds a client should wait before retrying a 503 */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The contract's error shape. Client mistakes carry their code and message; infrastructure errors
 * a generic one (`internal`, or `unavailable` with Retry-After), details go to the log only.
 */
export function errorResult(e: unknown): ApiResult {
  const m = errorMapping(e);
  const extra: Record<string, string> = {};
  if (m.status === 401) extra['www-authenticate'] = 'Bearer';
  if (m.body === 'internal') return json(m.status, { error: { code: 'internal', message: 'internal error' } } satisfies ErrorBody);
  if (m.body === 'unavailable') {
    extra['retry-after'] = String(RETRY_AFTER_SECONDS);
    return json(
      m.status,
      { error: { code: 'unavailable', message: 'a service the API depends on is unavailable; retry later' } } satisfies ErrorBody,
      extra,
    );
  }
  const err = e as OrchestratorError;
  return json(m.status, { error: { code: err.code, message: err.message } } satisfies ErrorBody, extra);
}

/** A path parameter validated by a schema (400 naming what was wrong). */
export function param<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  value: string | undefined,
  what: string,
): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${JSON.stringify((value ?? '').slice(0, 80))}`);
  return r.data;
}

/** The same parameters `sseFrames` needs, from the request (Last-Event-ID wins over ?after). */
export function streamStart(ev: ApiEvent): { after: number | undefined; backlog: number | undefined } {
  const q = parseQuery(ev, StreamQuerySchema);
  const lastId = header(ev, 'last-event-id');
  const after = lastId !== undefined && lastId !== '' ? param(LastEventIdSchema, lastId, 'Last-Event-ID') : q.after;
  return { after, backlog: q.backlog };
}
