/**
 * The sandbox function's handler (the cloud's `lambda` runtime): one inspection or one run of
 * agent code, in a function whose role can do nothing but write its logs. The bundle's bytes are
 * checked against their sha256 before anything imports them; the agent runs in an agent process
 * of its own (the `process` runtime: Node's permission model, an empty environment, its own
 * scratch directory, killed at the deadline), kept warm for the next run of the same agent
 * version in this execution environment and recycled after a crash or timeout. What it answers
 * is validated again by the runner (shared/adapters/aws/lambda-sandbox.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AgentSandbox, VerifiedBundleRef } from '../../shared/core/ports';
import { BundleRejectedError, errorMessage, ValidationError } from '../../shared/core/errors';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { SandboxRequestSchema, toWire, type SandboxRequest, type SandboxResponse } from '../../shared/definitions/sandbox-protocol';

export interface SandboxHandlerDeps {
  /** the runtime the agent code runs in (a ProcessSandbox) */
  runtime: AgentSandbox;
  /** fetches a presigned bundle URL (the global fetch by default) */
  fetch?: typeof fetch;
  /** the largest bundle it accepts (AGENT_MAX_BUNDLE_BYTES) */
  maxBytes: number;
  logger?: Logger;
}

/**
 * The body of a bundle download, read no further than `max` bytes: the Content-Length is checked
 * before the body is touched, and the stream is cancelled (and the request aborted) as soon as
 * more than `max` bytes arrived, whatever the headers said. The bytes returned are exactly the
 * bytes read (the ones hashed).
 */
async function readCapped(res: Response, max: number, ac: AbortController): Promise<Uint8Array | string> {
  const over = (n: number | null) =>
    n !== null ? `the bundle is ${n} bytes, over the limit of ${max}` : `the bundle is over the limit of ${max} bytes`;
  const len = Number(res.headers.get('content-length') ?? Number.NaN);
  if (len > max) {
    ac.abort();
    await res.body?.cancel().catch(() => undefined);
    return over(len);
  }
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      ac.abort();
      await reader.cancel().catch(() => undefined);
      return over(null);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks, n));
}

export function createSandboxHandler(deps: SandboxHandlerDeps): (event: unknown) => Promise<SandboxResponse> {
  const log = deps.logger ?? silentLogger;
  const get = deps.fetch ?? fetch;

  async function bytesOf(b: SandboxRequest['bundle']): Promise<VerifiedBundleRef | string> {
    let bytes: Uint8Array;
    if (b.bytesBase64 !== undefined) bytes = Buffer.from(b.bytesBase64, 'base64');
    else {
      const ac = new AbortController();
      const res = await get(b.url as string, { signal: AbortSignal.any([ac.signal, AbortSignal.timeout(20_000)]) });
      if (!res.ok) {
        ac.abort();
        return `fetching the bundle failed: HTTP ${res.status}`;
      }
      const read = await readCapped(res, deps.maxBytes, ac);
      if (typeof read === 'string') return read;
      bytes = read;
    }
    if (bytes.byteLength > deps.maxBytes) return `the bundle is ${bytes.byteLength} bytes, over the limit of ${deps.maxBytes}`;
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== b.sha256) return `the bundle's bytes hash to ${actual}, not to the verified ${b.sha256}`;
    return { key: b.key, sha256: b.sha256, bytes };
  }

  return async (event) => {
    const parsed = SandboxRequestSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported sandbox event: ${z.prettifyError(parsed.error)}`);
    const req = parsed.data;
    const bundle = await bytesOf(req.bundle);
    if (typeof bundle === 'string') return { kind: 'unavailable', error: bundle };
    if (req.mode === 'inspect') {
      try {
        return { kind: 'manifest', manifest: { ...(await deps.runtime.inspect(bundle)) } };
      } catch (e) {
        if (e instanceof BundleRejectedError) return { kind: 'invalid', error: e.message };
        log.error('inspection failed', { key: bundle.key, error: e });
        return { kind: 'unavailable', error: errorMessage(e) };
      }
    }
    const { envelope, ...run } = req.run;
    const result = await deps.runtime.run({ ...run, bundle, ...(envelope ? { envelope } : {}) });
    return { kind: 'result', result: toWire(result) };
  };
}
