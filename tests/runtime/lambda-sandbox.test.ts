/**
 * The `lambda` runtime (shared/adapters/aws/lambda-sandbox.ts) against the real sandbox handler
 * (functions/sandbox/core.ts with the real process runtime): Lambda Invoke has no emulator, so the
 * LambdaClient is mocked (aws-sdk-client-mock), its exact requests asserted, and each payload
 * handed to the handler as Lambda would hand it; what Lambda answers for a function error
 * (FunctionError "Unhandled", the error as the payload) is produced the way Lambda produces it.
 * Bundles over the inline limit travel as a presigned GET URL of the hot directory (s3rver), which
 * the handler fetches and checks against the verified sha256.
 */
import { agentStack } from '../../shared/core/stack';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { InvokeCommand, LambdaClient, TooManyRequestsException, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { LambdaSandbox } from '../../shared/adapters/aws/lambda-sandbox';
import { SandboxInvokeError } from '../../shared/adapters/aws/errors';
import { createClients } from '../../shared/adapters/aws/clients';
import { BundleRejectedError, isRetryable } from '../../shared/core/errors';
import { sha256Hex } from '../../shared/core/bundle/signing';
import type { SandboxRun, VerifiedBundleRef } from '../../shared/core/ports';
import { INLINE_BUNDLE_MAX_BYTES } from '../../shared/definitions/sandbox-protocol';
import { createSandboxHandler } from '../../functions/sandbox/core';
import { createTestProcesses } from '../support/inspector';
import { startTestS3 } from '../support/env';

const FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:orch-sandbox';
const lambdaMock = mockClient(LambdaClient);
let s3: Awaited<ReturnType<typeof startTestS3>>;
let s3Client: ReturnType<typeof createClients>['s3'];
let sandbox: LambdaSandbox;
/** what Lambda does with a payload: the handler's answer, or its error as FunctionError */
let handle: (event: unknown) => Promise<unknown>;
/** the payloads the sandbox function received (as the handler saw them) */
const received: unknown[] = [];

/** a payload as the SDK hands it back: the bytes, with the blob adapter's transformToString */
const encode = (v: unknown) => {
  const text = JSON.stringify(v);
  return Object.assign(new TextEncoder().encode(text), { transformToString: () => text });
};
const ref = (key: string, src: string | Uint8Array): VerifiedBundleRef => {
  const bytes = typeof src === 'string' ? new TextEncoder().encode(src) : src;
  return { key, sha256: sha256Hex(bytes), bytes };
};
const run = (bundle: VerifiedBundleRef, over: Partial<SandboxRun> = {}): SandboxRun => ({
  agent: 'a',
  version: '1.0.0',
  generation: 1,
  bundle,
  kind: 'cycle',
  cycle: 3,
  state: { n: 1 },
  timeoutMs: 5_000,
  ...over,
});

beforeAll(async () => {
  s3 = await startTestS3();
  const clients = createClients({ region: 'us-east-1', endpoints: { s3: s3.endpoint }, localCredentials: true });
  s3Client = clients.s3;
  const handler = createSandboxHandler({ runtime: createTestProcesses(), maxBytes: 8 * 1024 * 1024 });
  handle = (event) => {
    received.push(event);
    return handler(event);
  };
  sandbox = new LambdaSandbox({
    lambda: new LambdaClient({ region: 'us-east-1' }),
    functionName: FUNCTION,
    s3: clients.s3,
    bucket: s3.bucket,
  });
});

afterAll(async () => {
  lambdaMock.restore();
  await s3?.stop();
});

beforeEach(() => {
  received.length = 0;
  lambdaMock.reset();
  lambdaMock.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as unknown;
    try {
      return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: encode(await handle(event)) };
    } catch (e) {
      const err = e as Error;
      return {
        StatusCode: 200,
        ExecutedVersion: '$LATEST',
        FunctionError: 'Unhandled',
        Payload: encode({ errorType: err.name, errorMessage: err.message }),
      };
    }
  });
});

function invokeRequests(): InvokeCommandInput[] {
  return lambdaMock.commandCalls(InvokeCommand).map((c) => c.args[0].input);
}

describe('lambda runtime: runner → sandbox function', () => {
  it('a run: one RequestResponse Invoke with the bytes and the inputs; the result comes back as the agent made it', async () => {
    const bundle = ref(
      'agents/a/1.0.0.mjs',
      "export default { async runCycle(ctx) { ctx.state.set('n', ctx.state.get('n') + ctx.cycle); await ctx.publish('t.x', { at: ctx.cycle }); ctx.log.info('hello', { k: 1 }); } };",
    );
    const result = await sandbox.run(run(bundle));
    expect(invokeRequests()).toEqual([
      {
        FunctionName: FUNCTION,
        InvocationType: 'RequestResponse',
        Payload: expect.any(Uint8Array),
      },
    ]);
    expect(received).toEqual([
      {
        mode: 'run',
        bundle: { key: bundle.key, sha256: bundle.sha256, bytesBase64: Buffer.from(bundle.bytes).toString('base64') },
        run: { agent: 'a', version: '1.0.0', generation: 1, kind: 'cycle', cycle: 3, state: { n: 1 }, timeoutMs: 5_000 },
      },
    ]);
    expect(result).toMatchObject({
      outcome: 'ok',
      stateChanges: { n: 4 },
      published: [{ topic: 't.x', payload: { at: 3 } }],
    });
  });

  it('an inspection: the manifest is read in the sandbox; a bundle that is not an agent is bad_manifest', async () => {
    const good = ref('agents/g/1.0.0.mjs', "export default { cycleSeconds: 7, subscriptions: ['t.*'], runCycle() {}, onEnvelope() {} };");
    expect(await sandbox.inspect(good)).toEqual({ cycleSeconds: 7, timeoutSeconds: 30, subscriptions: ['t.*'], hasOnEnvelope: true });
    expect(received).toEqual([
      { mode: 'inspect', bundle: { key: good.key, sha256: good.sha256, bytesBase64: Buffer.from(good.bytes).toString('base64') } },
    ]);
    const bad = ref('agents/b/1.0.0.mjs', 'export default { cycleSeconds: 7 };');
    const err = await sandbox.inspect(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleRejectedError);
    expect((err as BundleRejectedError).reason).toBe('bad_manifest');
  });

  it('outcomes of the agent come back as outcomes: error with its stack, timeout, crashed', async () => {
    const thrown = await sandbox.run(
      run(ref('agents/a/1.0.1.mjs', "export default { runCycle(ctx) { ctx.log('before', { k: 1 });\n throw new Error('boom'); } };")),
    );
    expect(thrown).toMatchObject({ outcome: 'error', error: expect.stringContaining('boom') });
    // the stack and the run's log lines travel back through the sandbox function
    expect(agentStack(thrown.stack, 'agents/a/1.0.1.mjs', thrown.error)).toMatch(/^Error: boom\n {4}at .*agents\/a\/1\.0\.1\.mjs:2:8\)?$/m);
    expect(thrown.logs).toEqual([{ ts: expect.any(String), level: 'info', msg: 'before', fields: { k: 1 } }]);
    const hung = await sandbox.run(
      run(ref('agents/a/1.0.2.mjs', 'export default { async runCycle() { await new Promise(() => {}); } };'), { timeoutMs: 300 }),
    );
    expect(hung.outcome).toBe('timeout');
    const exited = await sandbox.run(run(ref('agents/a/1.0.3.mjs', 'export default { runCycle() { process.exit(3); } };')));
    expect(exited.outcome).toBe('crashed');
  });

  it('a bundle over the inline limit travels as a presigned GET URL of the hot directory, checked against its sha256', async () => {
    const pad = `/*${'x'.repeat(INLINE_BUNDLE_MAX_BYTES)}*/`;
    const bundle = ref('agents/big/1.0.0.mjs', `export default { async runCycle(ctx) { ctx.state.set('big', true); } };\n${pad}`);
    await s3Client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: bundle.key, Body: bundle.bytes }));
    const result = await sandbox.run(run(bundle));
    expect(result).toMatchObject({ outcome: 'ok', stateChanges: { big: true } });
    const req = received[0] as { bundle: Record<string, unknown> };
    expect(req.bundle).toEqual({
      key: bundle.key,
      sha256: bundle.sha256,
      url: expect.stringContaining(`/${s3.bucket}/agents/big/1.0.0.mjs?`),
    });
    expect(req.bundle.url).toMatch(/X-Amz-Expires=60\b/);
    expect(req.bundle.bytesBase64).toBeUndefined();

    // the object in the hot directory changed after verification: the sandbox refuses to run it
    await s3Client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: bundle.key,
        Body: new TextEncoder().encode(`export default { runCycle() {} };\n${pad}`),
      }),
    );
    const swapped = await sandbox.run(run(bundle)).catch((e: unknown) => e);
    expect(swapped).toBeInstanceOf(SandboxInvokeError);
    expect((swapped as Error).message).toMatch(/not to the verified/);
  });

  it('a presigned bundle over the limit is refused, read no further than the limit, whatever its Content-Length says', async () => {
    const max = 64 * 1024;
    const big = ref('agents/huge/1.0.0.mjs', `export default { runCycle() {} };\n/*${'x'.repeat(64 * max)}*/\n`);
    await s3Client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: big.key, Body: big.bytes }));
    const url = await getSignedUrl(s3Client, new GetObjectCommand({ Bucket: s3.bucket, Key: big.key }), { expiresIn: 60 });
    for (const stripLength of [false, true]) {
      let pulled = 0;
      // the real fetch, its body counted as the handler pulls it (and without Content-Length when stripped)
      const counting: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        const reader = res.body!.getReader();
        const body = new ReadableStream<Uint8Array>({
          async pull(c) {
            const { done, value } = await reader.read();
            if (done) return c.close();
            pulled += value.byteLength;
            c.enqueue(value);
          },
          cancel: (why) => reader.cancel(why),
        });
        const headers = new Headers(res.headers);
        if (stripLength) headers.delete('content-length');
        return new Response(body, { status: res.status, headers });
      };
      const handler = createSandboxHandler({ runtime: createTestProcesses(), maxBytes: max, fetch: counting });
      const out = await handler({ mode: 'inspect', bundle: { key: big.key, sha256: big.sha256, url } });
      expect(out).toMatchObject({ kind: 'unavailable', error: expect.stringMatching(/over the limit of 65536/) });
      expect(pulled).toBeLessThan(16 * max);
    }
  });

  it('inline bytes that do not hash to the verified sha256 never run', async () => {
    const bundle = ref('agents/a/2.0.0.mjs', "export default { runCycle(ctx) { ctx.state.set('ran', true); } };");
    const forged = { ...bundle, bytes: new TextEncoder().encode("export default { runCycle(ctx) { ctx.state.set('forged', true); } };") };
    const err = await sandbox.run(run(forged)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxInvokeError);
    expect((err as Error).message).toMatch(/hash to [0-9a-f]{64}, not to the verified/);
  });

  it('the function itself failed (its environment ended, it timed out): the run is crashed or timeout, not an orchestrator error', async () => {
    const bundle = ref('agents/a/3.0.0.mjs', 'export default { runCycle() {} };');
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'Runtime.ExitError', errorMessage: 'RequestId: r Error: Runtime exited with error: signal: killed' }),
    });
    expect(await sandbox.run(run(bundle))).toMatchObject({ outcome: 'crashed', error: expect.stringContaining('Runtime.ExitError') });
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: r Error: Task timed out after 900.00 seconds' }),
    });
    expect(await sandbox.run(run(bundle))).toMatchObject({ outcome: 'timeout' });
  });

  it('the Lambda service refuses (throttled): SandboxInvokeError, retryable, so the dispatch message comes back', async () => {
    lambdaMock.on(InvokeCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    const err = await sandbox.run(run(ref('agents/a/4.0.0.mjs', 'export default { runCycle() {} };'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxInvokeError);
    expect(isRetryable(err)).toBe(true);
    expect((err as Error).message).toMatch(/Rate exceeded/);
  });

  it('an answer that is not a sandbox response is refused, not trusted', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ kind: 'result', result: { outcome: 'ok' } }) });
    const err = await sandbox.run(run(ref('agents/a/5.0.0.mjs', 'export default { runCycle() {} };'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxInvokeError);
    expect((err as Error).message).toMatch(/unexpected response/);
  });
});
