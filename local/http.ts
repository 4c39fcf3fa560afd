/**
 * Local HTTP server of the control API on 127.0.0.1 that turns each request into the same API
 * Gateway HTTP API (payload v2) event the cloud delivers, calls the very same handler and writes
 * its result back. `/events/stream` goes to the streaming handler (the same SSE core as the
 * Lambda function URL) and is written as it is produced.
 *
 * One port, two protocols: a connection that opens with the HTTP/2 preface (h2c with prior
 * knowledge, what gRPC clients send) goes to a node:http2 server, any other to node:http
 * (HTTP/1.1). Both serve the REST routes and the gRPC/Connect services (`/<package>.<Service>/
 * <Method>`, functions/api/rpc/server.ts): gRPC needs HTTP/2; Connect and gRPC-Web work on both.
 *
 * The body size limit is enforced while reading: a body over the limit is not buffered (the rest
 * is drained and discarded, up to a hard cap after which the connection is dropped) and the
 * request is answered 413 with the API's error shape without reaching the handler.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DEFAULT_MAX_BODY_BYTES, errorResult } from '../functions/api/http';
import { PayloadTooLargeError } from '../functions/api/errors';
import type { StreamHandler, StreamSink } from '../functions/api/stream-core';
import type { RpcServer } from '../functions/api/rpc/server';
import type { Logger } from '../shared/core/logger';
import { silentLogger } from '../shared/core/logger';
import { errorMessage } from '../shared/core/errors';

export type ApiHandlerFn = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2 | string>;

export interface HttpServerOptions {
  handler: ApiHandlerFn;
  /** serves GET /events/stream as a live stream; without it the handler answers (one batch) */
  streamHandler?: StreamHandler;
  /** serves the gRPC/Connect services (gRPC over h2c, Connect and gRPC-Web over both) */
  rpc?: Pick<RpcServer, 'handles' | 'node' | 'shutdown'>;
  /** 0 picks a free port */
  port: number;
  host?: string;
  maxBodyBytes?: number;
  /** a body this far over the limit gets the connection dropped instead of drained */
  drainCapBytes?: number;
  logger?: Logger;
}

export interface HttpServer {
  url: string;
  port: number;
  /** the listener (it hands each connection to the HTTP/1.1 or the HTTP/2 server) */
  server: Server;
  close(): Promise<void>;
}

const TEXTUAL = /^(application\/([a-z0-9.+-]*\+)?(json|xml|x-www-form-urlencoded|javascript)|text\/)/i;

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** The first bytes of an HTTP/2 connection with prior knowledge (RFC 9113, 3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** HTTP/1-only headers that an HTTP/2 response must not carry (RFC 9113, 8.2.2). */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Builds the v2 event exactly as API Gateway would for this request. */
export function toApiEvent(req: NodeRequest, body: Buffer, now: number): APIGatewayProxyEventV2 {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const rawQueryString = q >= 0 ? rawUrl.slice(q + 1) : '';
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    // HTTP/2 pseudo-headers: the authority is the host, the rest is in method and url
    if (name.startsWith(':')) {
      if (name === ':authority' && headers.host === undefined) headers.host = value;
      continue;
    }
    if (name === 'cookie') cookies.push(...value.split(/;\s*/).filter(Boolean));
    // API Gateway joins repeated headers with commas
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString))
    queryStringParameters[k] = queryStringParameters[k] === undefined ? v : `${queryStringParameters[k]},${v}`;
  const contentType = headers['content-type'] ?? '';
  const textual = body.length === 0 || TEXTUAL.test(contentType);
  const method = (req.method ?? 'GET').toUpperCase();
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    /* API Gateway passes undecodable paths through as they are */
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const requestId = randomUUID();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: { method, path, protocol: `HTTP/${req.httpVersion}`, sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: !textual,
  };
  if (cookies.length) event.cookies = cookies;
  if (Object.keys(queryStringParameters).length) event.queryStringParameters = queryStringParameters;
  if (body.length > 0) event.body = textual ? body.toString('utf8') : body.toString('base64');
  return event;
}

/** Reads a body up to `limit` bytes; over it, drains without buffering (or drops past `cap`). */
function readBody(req: NodeRequest, limit: number, cap: number): Promise<{ body: Buffer } | { tooLarge: number | null; dropped: boolean }> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    let settled = false;
    const finish = (v: { body: Buffer } | { tooLarge: number | null; dropped: boolean }) => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    if (over && declared > cap) {
      // not worth draining: answer now and drop the connection afterwards
      req.pause();
      return finish({ tooLarge: declared, dropped: true });
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!over && size > limit) {
        over = true;
        chunks.length = 0;
      }
      if (over) {
        if (size > cap) {
          req.pause();
          finish({ tooLarge: null, dropped: true });
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish(over ? { tooLarge: size, dropped: false } : { body: Buffer.concat(chunks, size) }));
    req.on('error', (e) => {
      if (settled) return;
      settled = true;
      reject(e);
    });
  });
}

function writeResult(response: NodeResponse, result: APIGatewayProxyStructuredResultV2 | string): void {
  const res = response as ServerResponse;
  if (typeof result === 'string') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(result);
    return;
  }
  const h2 = isH2(response);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) {
    const name = k.toLowerCase();
    if (!(h2 && CONNECTION_HEADERS.has(name))) headers[name] = String(v);
  }
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : result.isBase64Encoded
        ? Buffer.from(result.body, 'base64')
        : Buffer.from(result.body, 'utf8');
  headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const cap = opts.drainCapBytes ?? Math.max(limit * 16, 16 * 1024 * 1024);
  const log = opts.logger ?? silentLogger;
  const streams = new Set<AbortController>();

  /** one request of either protocol: an RPC, the live event stream, or the API handler */
  const handle = (req: NodeRequest, res: NodeResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (opts.rpc?.handles(path)) {
      opts.rpc.node(req, res);
      return;
    }
    void (async () => {
      try {
        const read = await readBody(req, limit, cap);
        if (!('body' in read)) {
          const r = errorResult(new PayloadTooLargeError(read.tooLarge, limit));
          if (!isH2(res)) r.headers.connection = 'close';
          writeResult(res, r);
          if (read.dropped) res.on('finish', () => req.destroy());
          return;
        }
        const event = toApiEvent(req, read.body, Date.now());
        if (opts.streamHandler && event.requestContext.http.method === 'GET' && event.rawPath.replace(/\/$/, '') === '/events/stream') {
          const ctl = new AbortController();
          streams.add(ctl);
          res.on('close', () => ctl.abort());
          try {
            await opts.streamHandler(event, nodeSink(res), ctl.signal);
          } finally {
            streams.delete(ctl);
          }
          return;
        }
        writeResult(res, await opts.handler(event));
      } catch (e) {
        log.error('local http request failed', { error: errorMessage(e), url: req.url?.slice(0, 200) });
        if (!res.headersSent) writeResult(res, errorResult(e));
        else res.destroy();
      }
    })();
  };
  const h1 = createServer(handle);
  const h2 = createH2Server({}, handle);
  const sessions = new Set<Http2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  // the listener: a connection that opens with the HTTP/2 preface is h2c, any other HTTP/1.x
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // a connection that says nothing is not kept (the servers' own timeouts start once it is theirs)
    const idle = () => socket.destroy();
    socket.setTimeout(20_000, idle);
    socket.once('readable', () => {
      socket.setTimeout(0);
      socket.off('timeout', idle);
      const chunk: Buffer | null = socket.read(Math.min(socket.readableLength, H2_PREFACE.length)) ?? socket.read();
      if (!chunk) return void socket.destroy();
      socket.unshift(chunk);
      const h2c =
        chunk.length > 0 && H2_PREFACE.subarray(0, Math.min(chunk.length, H2_PREFACE.length)).equals(chunk.subarray(0, H2_PREFACE.length));
      (h2c ? h2 : h1).emit('connection', socket);
    });
  });
  // malformed HTTP (bad framing, oversized headers) never reaches the handler; answer it in
  // the API's error shape instead of node's bare 400
  h1.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: {
        code: tooLarge ? 'headers_too_large' : 'bad_request',
        message: tooLarge ? 'request headers are too large' : 'malformed HTTP request',
      },
    });
    // a HEAD answer has no body (the client would read one as garbage)
    const head = (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? '' : body}`,
    );
  });
  h1.headersTimeout = 20_000;
  h1.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info('api listening', { url });
  return {
    url,
    port,
    server,
    async close() {
      for (const s of streams) s.abort();
      opts.rpc?.shutdown();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.closeIdleConnections();
        for (const s of sessions) s.close();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 500).unref();
      });
    },
  };
}

function isH2(res: NodeResponse): res is Http2ServerResponse {
  return 'stream' in res && (res as Http2ServerResponse).stream !== undefined;
}

/** A StreamSink over a node response (HTTP/1.1 or HTTP/2). */
function nodeSink(response: NodeResponse): StreamSink {
  const res = response as ServerResponse;
  return {
    start(statusCode, headers) {
      res.writeHead(statusCode, headers);
      if (typeof res.flushHeaders === 'function') res.flushHeaders();
    },
    write(chunk) {
      if (res.writableEnded || res.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        if (res.write(chunk)) resolve();
        else {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        }
      });
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}
