/**
 * The scheduler's fan-out in the cloud (ShardFanOut): one asynchronous invocation of the
 * scheduler function per shard (`InvocationType: Event`, payload `{"action":"tick","shard":n}`),
 * so that the shards tick in parallel, each in its own invocation with its own timeout, instead
 * of one invocation advancing the whole fleet. Lambda queues an asynchronous invocation and
 * answers 202 at once; the shard invocations then run with the function's own asynchronous
 * settings (no retry, events older than a minute dropped: the next tick makes up a lost one).
 *
 * Each start is tried once (the SDK's own retries cover throttling of the Invoke call); the
 * shards whose start failed are returned, and the next tick covers them.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { ShardFanOut } from '../../core/ports';
import { errorMessage } from '../../core/errors';
import { silentLogger, type Logger } from '../../core/logger';

export interface LambdaFanOutOptions {
  /** the scheduler function itself (AWS_LAMBDA_FUNCTION_NAME) */
  functionName: string;
  /** Invoke requests in flight (default 16) */
  concurrency?: number;
  logger?: Logger;
}

export class LambdaShardFanOut implements ShardFanOut {
  private readonly log: Logger;
  private readonly concurrency: number;

  constructor(
    private readonly lambda: LambdaClient,
    private readonly opts: LambdaFanOutOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
  }

  async tickShards(shards: number[]): Promise<{ failed: number[] }> {
    const failed: number[] = [];
    let i = 0;
    const worker = async () => {
      while (i < shards.length) {
        const shard = shards[i++] as number;
        try {
          const out = await this.lambda.send(
            new InvokeCommand({
              FunctionName: this.opts.functionName,
              InvocationType: 'Event',
              Payload: new TextEncoder().encode(JSON.stringify({ action: 'tick', shard })),
            }),
          );
          if (out.StatusCode !== 202) throw new Error(`Invoke answered ${out.StatusCode}`);
        } catch (e) {
          failed.push(shard);
          this.log.error('starting a shard tick failed', { shard, error: errorMessage(e) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, shards.length) }, worker));
    return { failed: failed.sort((a, b) => a - b) };
  }
}
