/**
 * Health monitor: `agent.failed` envelopes (rule Health on the agents bus) and a sweep every
 * minute (schedule HealthSweep) over the sparse `expect` GSI for overdue heartbeats. Restarts
 * (with capped backoff) and quarantines agents: registry and heartbeats read/write, Query on
 * the `expect` index, publish the transitions as ledger events.
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { EXPECT_INDEX } from '../../shared/definitions/tables';
import { DDB_READ, DDB_SCAN, DDB_WRITE, indexStatement, putEventsStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { lambdaRulesFor, schedulesFor } from './routing';

export class HealthMonitor extends Construct {
  readonly function: OrchestratorFunction;
  readonly rules: events.Rule[];
  readonly schedules: scheduler.Schedule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    this.function = new OrchestratorFunction(this, 'Monitor', {
      defaults: ctx.functions,
      dir: 'health-monitor',
      description: 'restarts failing or stuck agents and quarantines crash loops',
      memoryMb: 512,
      timeout: Duration.seconds(55),
      async: { retryAttempts: 2, maxEventAge: Duration.minutes(30) },
    });
    this.function.addToPolicy(
      tableStatement('RegistryReadWrite', ctx.tables.Registry, [...DDB_READ, ...DDB_SCAN, ...DDB_WRITE]),
      tableStatement('HeartbeatsReadWrite', ctx.tables.Heartbeats, [...DDB_READ, ...DDB_WRITE]),
      indexStatement('QueryOverdueHeartbeats', ctx.tables.Heartbeats, EXPECT_INDEX),
      putEventsStatement(ctx.bus.bus),
    );
    const fn = this.function.fn;
    this.rules = lambdaRulesFor(this, ctx, 'health-monitor', fn, { retryAttempts: 8, maxEventAge: Duration.hours(1) });
    this.schedules = schedulesFor(this, ctx, 'health-monitor', fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  }
}
