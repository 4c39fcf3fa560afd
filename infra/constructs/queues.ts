/**
 * SQS queues of the stack, all SSE-SQS encrypted with TLS enforced, and the two dead-letter
 * queues for failed asynchronous deliveries:
 * - `deliveryFailures`: events an EventBridge rule or an EventBridge Scheduler schedule could
 *   not deliver to its target (throttled, missing permission, retries exhausted);
 * - `asyncFailures`: the on-failure destination of asynchronously invoked functions (the
 *   function ran and threw after Lambda's retries; the record carries the error).
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * SQS's largest message: 1 MiB (1,048,576 bytes). An envelope may be 256 KB by itself; as the
 * event EventBridge delivers (ledger queue, DeliveryFailures), as a dispatch message (dispatch
 * queue) or as an on-failure record (AsyncFailures) it is larger than the 256 KiB a queue
 * otherwise keeps as its maximum. Dead-letter queues get the same size as their sources.
 */
export const MAX_MESSAGE_BYTES = 1_048_576;

export function secureQueue(scope: Construct, id: string, props: sqs.QueueProps = {}): sqs.Queue {
  return new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    ...props,
  });
}

/** 14 days: the most SQS keeps a message, time to inspect and redrive */
export const DLQ_RETENTION = Duration.days(14);

export class DeadLetters extends Construct {
  readonly deliveryFailures: sqs.Queue;
  readonly asyncFailures: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.deliveryFailures = secureQueue(this, 'DeliveryFailures', { retentionPeriod: DLQ_RETENTION });
    this.asyncFailures = secureQueue(this, 'AsyncFailures', { retentionPeriod: DLQ_RETENTION });
  }

  all(): sqs.Queue[] {
    return [this.deliveryFailures, this.asyncFailures];
  }
}
