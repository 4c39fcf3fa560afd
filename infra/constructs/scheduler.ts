/**
 * Scheduler: an EventBridge Scheduler schedule (SchedulerTick, rate(1 minute)) invokes the
 * scheduler function, which fans the tick out: one asynchronous invocation of itself per shard
 * (`{"action":"tick","shard":n}`, AGENT_SCHEDULE_SHARDS of them). Each shard's invocation queries
 * the sparse `due` GSI for its agents due before the next tick, advances `nextRunAt` with a
 * conditional UpdateItem and sends the slots to the dispatch queue with a per-message delay. It
 * may do exactly that: invoke itself, Query the `due` index, UpdateItem the registry, SendMessage
 * to the dispatch queue.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DUE_INDEX } from '../../shared/definitions/tables';
import { indexStatement, sendStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { schedulesFor } from './routing';

export class Scheduler extends Construct {
  readonly function: OrchestratorFunction;
  readonly schedules: scheduler.Schedule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    this.function = new OrchestratorFunction(this, 'Scheduler', {
      defaults: ctx.functions,
      dir: 'scheduler',
      description: 'dispatches the agent slots due before the next tick',
      memoryMb: 512,
      timeout: Duration.seconds(55),
      // a lost tick is made up by the next one (overdue slots run at once); never run a stale one
      async: { retryAttempts: 0, maxEventAge: Duration.minutes(1) },
    });
    this.function.addToPolicy(
      indexStatement('QueryDueAgents', ctx.tables.Registry, DUE_INDEX),
      tableStatement('AdvanceNextRun', ctx.tables.Registry, ['dynamodb:UpdateItem']),
      sendStatement('DispatchSlots', ctx.dispatchQueue),
    );
    // The fan-out: invoking itself. A policy of its own, not the role's default policy: the
    // function depends on the default policy, so naming the function's ARN there would be a cycle.
    new iam.Policy(this, 'FanOut', {
      roles: [this.function.role],
      statements: [
        new iam.PolicyStatement({
          sid: 'TickShards',
          actions: ['lambda:InvokeFunction'],
          resources: [this.function.fn.functionArn],
        }),
      ],
    });
    this.schedules = schedulesFor(this, ctx, 'scheduler', this.function.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  }
}
