/**
 * Ledger writer: rule Ledger (every envelope on the agents bus) → SQS FIFO queue with one
 * message group (appends are serial, so sequence numbers are gap-free) and content-based
 * de-duplication (the body is the EventBridge event, including its id; the ledger also
 * de-duplicates by envelope id) → the ledger-writer function in batches of up to 10.
 * The only writer of the Ledger table; nothing else may write it.
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DDB_READ, DDB_WRITE, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { rulesFor } from './routing';
import { DLQ_RETENTION, secureQueue } from './queues';
import { visibilityFor } from './runner';

/** the one FIFO message group: the ledger is a single serial sequence */
export const LEDGER_MESSAGE_GROUP = 'ledger';

/** the ledger writer's Lambda memory (also what bench/cycles.ts prices it at) */
export const LEDGER_WRITER_MEMORY_MB = 512;

export class LedgerWriter extends Construct {
  readonly function: OrchestratorFunction;
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly rules: events.Rule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    const timeoutSeconds = 60;
    this.deadLetters = secureQueue(this, 'DeadLetters', { fifo: true, retentionPeriod: DLQ_RETENTION });
    this.queue = secureQueue(this, 'Queue', {
      fifo: true,
      contentBasedDeduplication: true,
      visibilityTimeout: visibilityFor(timeoutSeconds),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 10 },
    });
    this.function = new OrchestratorFunction(this, 'Writer', {
      defaults: ctx.functions,
      dir: 'ledger-writer',
      description: 'appends every bus event to the hash-chained ledger',
      memoryMb: LEDGER_WRITER_MEMORY_MB,
      timeout: Duration.seconds(timeoutSeconds),
    });
    this.function.addToPolicy(tableStatement('LedgerReadWrite', ctx.tables.Ledger, [...DDB_READ, ...DDB_WRITE]));
    this.function.fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
    this.rules = rulesFor(
      this,
      ctx,
      'ledger-writer',
      () =>
        new targets.SqsQueue(this.queue, {
          messageGroupId: LEDGER_MESSAGE_GROUP,
          deadLetterQueue: ctx.deadLetters.deliveryFailures,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
    );
  }
}
