/**
 * The `lambda` runtime (the cloud's default): the runner (trusted: claim, state, completion,
 * publish) invokes the sandbox function, whose role can do nothing but write its own logs, with
 * the verified bundle and the run's inputs, and gets the run's result back (publishes, state
 * changes, outcome; the agent's log lines go to the sandbox function's own log group). Bundles
 * are inspected there too, never in the manager. The sandbox runs the agent in an agent process
 * of its own (the `process` runtime inside the function; functions/sandbox).
 *
 * Bytes travel in the payload up to INLINE_BUNDLE_MAX_BYTES (the synchronous invocation payload
 * is 6 MB), else as a presigned GET URL valid for a minute; the sandbox checks the sha256 either
 * way. An invocation that fails (the function crashed, timed out, was throttled) is this run's
 * `crashed` (or `timeout`), never the orchestrator's error; a throttled or unreachable Lambda
 * service is retryable (the message comes back).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AgentSandbox, SandboxResult, SandboxRun, VerifiedBundleRef } from '../../core/ports';
import { BundleManifestSchema, type BundleManifest } from '../../core/registry';
import { BundleRejectedError, errorMessage } from '../../core/errors';
import {
  fromWire,
  INLINE_BUNDLE_MAX_BYTES,
  SandboxResponseSchema,
  type SandboxRequest,
  type SandboxResponse,
} from '../../definitions/sandbox-protocol';
import { SandboxInvokeError } from './errors';

export interface LambdaSandboxOptions {
  lambda: LambdaClient;
  /** the sandbox function (name or ARN: SANDBOX_FUNCTION) */
  functionName: string;
  /** for presigned URLs of large bundles: the hot directory */
  s3: S3Client;
  bucket: string;
}

export class LambdaSandbox implements AgentSandbox {
  readonly runtime = 'lambda' as const;

  constructor(private readonly o: LambdaSandboxOptions) {}

  private async bundleOf(b: VerifiedBundleRef): Promise<SandboxRequest['bundle']> {
    if (b.bytes.byteLength <= INLINE_BUNDLE_MAX_BYTES)
      return { key: b.key, sha256: b.sha256, bytesBase64: Buffer.from(b.bytes).toString('base64') };
    const url = await getSignedUrl(this.o.s3, new GetObjectCommand({ Bucket: this.o.bucket, Key: b.key }), { expiresIn: 60 });
    return { key: b.key, sha256: b.sha256, url };
  }

  private async invoke(req: SandboxRequest): Promise<{ functionError: string; text: string } | { response: SandboxResponse }> {
    // the Lambda service refused or could not be reached (throttled, not found, no permission,
    // network): retryable, the message comes back; the SDK has already retried what it retries
    const out = await this.o.lambda
      .send(
        new InvokeCommand({
          FunctionName: this.o.functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(req)),
        }),
      )
      .catch((e: unknown) => {
        throw new SandboxInvokeError(`invoking the sandbox function ${this.o.functionName} failed: ${errorMessage(e)}`, undefined, {
          cause: e,
        });
      });
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    if (out.FunctionError) return { functionError: out.FunctionError, text };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SandboxInvokeError(`the sandbox function answered something that is not JSON: ${text.slice(0, 200)}`);
    }
    const r = SandboxResponseSchema.safeParse(json);
    if (!r.success) throw new SandboxInvokeError(`the sandbox function answered an unexpected response: ${r.error.message.slice(0, 300)}`);
    return { response: r.data };
  }

  async inspect(bundle: VerifiedBundleRef): Promise<BundleManifest> {
    const r = await this.invoke({ mode: 'inspect', bundle: await this.bundleOf(bundle) });
    if ('functionError' in r)
      throw new SandboxInvokeError(`the sandbox function failed while inspecting ${bundle.key}: ${r.text.slice(0, 300)}`);
    const res = r.response;
    if (res.kind === 'invalid') throw new BundleRejectedError('bad_manifest', res.error, { key: bundle.key });
    if (res.kind === 'unavailable') throw new SandboxInvokeError(`the sandbox could not inspect ${bundle.key}: ${res.error}`);
    if (res.kind !== 'manifest') throw new SandboxInvokeError(`the sandbox function answered ${res.kind} to an inspection`);
    const m = BundleManifestSchema.safeParse(res.manifest);
    if (!m.success)
      throw new BundleRejectedError('bad_manifest', `invalid agent manifest: ${m.error.message.slice(0, 500)}`, { key: bundle.key });
    return m.data;
  }

  async run(run: SandboxRun): Promise<SandboxResult> {
    const req: SandboxRequest = {
      mode: 'run',
      bundle: await this.bundleOf(run.bundle),
      run: {
        agent: run.agent,
        version: run.version,
        ...(run.generation !== undefined ? { generation: run.generation } : {}),
        kind: run.kind,
        cycle: run.cycle,
        ...(run.envelope ? { envelope: run.envelope } : {}),
        state: run.state,
        timeoutMs: run.timeoutMs,
      },
    };
    const started = Date.now();
    const r = await this.invoke(req);
    const failed = (outcome: SandboxResult['outcome'], error: string): SandboxResult => ({
      outcome,
      error,
      durationMs: Date.now() - started,
      published: [],
      stateChanges: {},
    });
    if ('functionError' in r) {
      // the function itself failed: its environment crashed or hit the function's timeout
      const timedOut = /Task timed out|Sandbox\.Timedout/i.test(r.text);
      return failed(timedOut ? 'timeout' : 'crashed', `the sandbox function failed (${r.functionError}): ${r.text.slice(0, 500)}`);
    }
    const res = r.response;
    if (res.kind === 'result') return fromWire(res.result);
    if (res.kind === 'unavailable') throw new SandboxInvokeError(`the sandbox could not run ${run.agent}: ${res.error}`);
    return failed('error', res.kind === 'invalid' ? res.error : `the sandbox function answered ${res.kind} to a run`);
  }
}
