/**
 * Least-privilege IAM statements, scoped to the stack's resources: explicit actions per need
 * (no `grant*ReadWriteData` helpers, which add more actions and `index/*`), indexes by name.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as events from 'aws-cdk-lib/aws-events';

export const DDB_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;
/** listing every agent (RegistryStore.list) is a Scan of the registry; no other table is scanned */
export const DDB_SCAN = ['dynamodb:Scan'] as const;
export const DDB_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'] as const;

export function tableStatement(sid: string, table: dynamodb.ITable, actions: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, actions: [...actions], resources: [table.tableArn] });
}

export function indexStatement(
  sid: string,
  table: dynamodb.ITable,
  indexName: string,
  actions: readonly string[] = ['dynamodb:Query'],
): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, actions: [...actions], resources: [`${table.tableArn}/index/${indexName}`] });
}

/** SendMessage (and SendMessageBatch, which IAM authorizes as SendMessage) to one queue */
export function sendStatement(sid: string, queue: sqs.IQueue): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, actions: ['sqs:SendMessage'], resources: [queue.queueArn] });
}

export function putEventsStatement(bus: events.IEventBus): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid: 'PublishEnvelopes', actions: ['events:PutEvents'], resources: [bus.eventBusArn] });
}
