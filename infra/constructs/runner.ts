/**
 * Runner: consumes the dispatch queue (standard SQS; the scheduler sets a per-message delay up
 * to 15 min so slots start on time), one message = one run per invocation (batch size 1), and
 * reports only infrastructure errors as batch item failures (agent failures are outcomes, not
 * retries). Messages that keep failing go to the dispatch dead-letter queue.
 *
 * Least privilege: it reads bundles (GetObject agents/*, ListBucket on the hot directory so a
 * missing bundle is a 404, not a 403), reads the registry item of the agent
 * (GetItem only: it cannot register, pause, release or change an agent), reads/writes its
 * heartbeat and claim items, and publishes envelopes. It has no access to the trusted keys
 * beyond its own environment and no way to change them.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DDB_WRITE, putEventsStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { DLQ_RETENTION, secureQueue } from './queues';

/** AWS's advice for SQS event sources: visibility timeout >= 6 x the function timeout */
export function visibilityFor(functionTimeoutSeconds: number): Duration {
  return Duration.seconds(Math.min(12 * 3600, 6 * functionTimeoutSeconds));
}

export class DispatchQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: { runnerTimeoutSeconds: number }) {
    super(scope, id);
    this.deadLetters = secureQueue(this, 'DeadLetters', { retentionPeriod: DLQ_RETENTION });
    this.queue = secureQueue(this, 'Queue', {
      visibilityTimeout: visibilityFor(props.runnerTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
  }
}

export class Runner extends Construct {
  readonly function: OrchestratorFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    const p = ctx.props.runner;
    this.function = new OrchestratorFunction(this, 'Runner', {
      defaults: ctx.functions,
      dir: 'runner',
      description: 'runs one agent cycle or envelope delivery in an isolated worker thread',
      memoryMb: p.memoryMb,
      timeout: Duration.seconds(p.timeoutSeconds),
    });
    this.function.addToPolicy(
      ...ctx.hot.readBundlesStatements(),
      tableStatement('ReadAgentRecord', ctx.tables.Registry, ['dynamodb:GetItem']),
      tableStatement('HeartbeatsReadWrite', ctx.tables.Heartbeats, ['dynamodb:GetItem', 'dynamodb:BatchGetItem', ...DDB_WRITE]),
      putEventsStatement(ctx.bus.bus),
    );
    this.eventSource = new SqsEventSource(ctx.dispatchQueue, {
      batchSize: 1,
      reportBatchItemFailures: true,
      maxConcurrency: p.maxConcurrency,
      enabled: ctx.props.components.runner,
    });
    this.function.fn.addEventSource(this.eventSource);
  }

  get fn(): lambda.IFunction {
    return this.function.fn;
  }
}
