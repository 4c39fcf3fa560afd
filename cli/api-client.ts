/**
 * agentctl's client of the control API (operator commands, cli/ops.ts).
 *
 * Where: `--api URL`, else AGENT_API_URL, else the running local mode's endpoints.json.
 * How it authenticates:
 * - a bearer token: AGENT_API_TOKEN, else the local data dir's token file (local mode, or a
 *   cloud API in JWT mode with a JWT in AGENT_API_TOKEN);
 * - AWS SigV4 (IAM, the cloud default): with `--iam`, or automatically when the URL is not a
 *   loopback address and no token is set. Credentials come from the standard AWS chain (env,
 *   profile, SSO, instance role); the region from the URL (`<id>.execute-api.<region>...`,
 *   `<id>.lambda-url.<region>...`) or AWS_REGION. Service `execute-api` for API Gateway, `lambda`
 *   for a function URL (the event stream, AGENT_STREAM_URL: always `lambda`, see streamTarget).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import { OperationError, UsageError } from './errors';
import { dataDirOf, readLocalEndpoints, tokenFile } from '../shared/definitions/local-data';

/** node:crypto SHA-256 / HMAC-SHA-256 in the shape SignatureV4 expects. */
export class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView, encoding?: 'utf8' | 'ascii' | 'latin1'): void {
    if (typeof data === 'string') this.h.update(data, encoding ?? 'utf8');
    else this.h.update(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export type Auth =
  | { kind: 'token'; token: string }
  | { kind: 'iam'; region: string; service: string; credentials: AwsCredentialIdentity | Provider<AwsCredentialIdentity> }
  | { kind: 'none' };

export interface ApiTarget {
  base: URL;
  auth: Auth;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || url.hostname.startsWith('127.');
}

/** Region and signing service from an API Gateway / function URL host, if it is one. */
export function awsHostInfo(hostname: string): { region: string; service: string } | null {
  const m = /\.(execute-api|lambda-url)\.([a-z0-9-]+)\.(?:amazonaws\.com|on\.aws)$/.exec(hostname);
  if (!m) return null;
  return { region: m[2] as string, service: m[1] === 'lambda-url' ? 'lambda' : 'execute-api' };
}

export interface ResolveOptions {
  api?: string | undefined;
  iam?: boolean | undefined;
  env: NodeJS.ProcessEnv;
  /** injectable credentials (tests); default: the AWS SDK's default provider chain */
  credentials?: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
}

export async function resolveTarget(o: ResolveOptions): Promise<ApiTarget> {
  const dataDir = dataDirOf(o.env);
  let raw = o.api ?? o.env.AGENT_API_URL;
  if (!raw) {
    const local = readLocalEndpoints(dataDir);
    if (!local)
      throw new OperationError(`no API given (--api URL or AGENT_API_URL) and local mode is not running (no endpoints.json in ${dataDir})`);
    raw = local.api;
  }
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    throw new UsageError(`--api must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError('--api must be an http(s) URL');

  let token = o.env.AGENT_API_TOKEN?.trim() || undefined;
  if (!token && !o.iam && isLoopback(base)) {
    const f = tokenFile(dataDir);
    if (existsSync(f)) token = readFileSync(f, 'utf8').trim() || undefined;
  }
  if (token && !o.iam) return { base, auth: { kind: 'token', token } };
  if (o.iam || !isLoopback(base)) {
    const info = awsHostInfo(base.hostname);
    const region = info?.region ?? o.env.AWS_REGION ?? o.env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('IAM signing needs a region: use an execute-api/lambda-url URL or set AWS_REGION');
    const service = o.env.AGENT_API_SIGNING_SERVICE ?? info?.service ?? 'execute-api';
    const credentials = o.credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
    return { base, auth: { kind: 'iam', region, service, credentials } };
  }
  return { base, auth: { kind: 'none' } };
}

/**
 * The target of the event stream's function URL (AGENT_STREAM_URL): the API's credentials, but a
 * function URL is signed for service `lambda` (in the URL's region), not `execute-api`.
 */
export function streamTarget(target: ApiTarget, url: URL): ApiTarget {
  if (target.auth.kind !== 'iam') return { base: url, auth: target.auth };
  const info = awsHostInfo(url.hostname);
  return { base: url, auth: { ...target.auth, region: info?.region ?? target.auth.region, service: 'lambda' } };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: string;
  json(): unknown;
}

/** Headers (and signature) for one request. */
export async function authHeaders(
  target: ApiTarget,
  method: string,
  url: URL,
  body: string | undefined,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (target.auth.kind === 'token') headers.authorization = `Bearer ${target.auth.token}`;
  if (target.auth.kind === 'iam') {
    const signer = new SignatureV4({
      service: target.auth.service,
      region: target.auth.region,
      credentials: target.auth.credentials,
      sha256: NodeSha256,
    });
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body !== undefined ? { body } : {}),
    });
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') headers[k] = v;
  }
  return headers;
}

/** Joins a route to the base URL (keeping a stage path such as /prod). */
export function routeUrl(base: URL, route: string): URL {
  const u = new URL(base.href);
  const [path, query] = route.split('?', 2) as [string, string | undefined];
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  u.search = query ? `?${query}` : '';
  return u;
}

export async function request(target: ApiTarget, method: 'GET' | 'POST', route: string, body?: unknown): Promise<ApiResponse> {
  const url = routeUrl(target.base, route);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = await authHeaders(target, method, url, payload, { accept: 'application/json' });
  let res: Response;
  try {
    res = await fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  } catch (e) {
    throw new OperationError(
      `cannot reach the API at ${target.base.origin}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`,
    );
  }
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text,
    json() {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new OperationError(`the API answered ${res.status} with a body that is not JSON`);
      }
    },
  };
}

/** The API's error shape as one line, or the status when the body is not the error shape. */
export function describeError(r: ApiResponse): string {
  try {
    const b = JSON.parse(r.body) as { error?: { code?: unknown; message?: unknown } };
    if (b.error && typeof b.error.code === 'string') return `${r.status} ${b.error.code}: ${String(b.error.message ?? '')}`;
  } catch {
    /* not JSON */
  }
  return `HTTP ${r.status}${r.body ? `: ${r.body.slice(0, 200)}` : ''}`;
}
