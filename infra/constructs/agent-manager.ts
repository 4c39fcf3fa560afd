/**
 * Agent manager: S3 "Object Created/Deleted" events of the hot directory (rule HotDirectory on
 * the DEFAULT bus, where S3 sends them) and a daily full rescan (schedule Rescan). Verifies and
 * registers bundles. May read bundles and list the hot directory, read/write the registry, publish on
 * the agents bus — nothing else.
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DDB_READ, DDB_SCAN, DDB_WRITE, putEventsStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { lambdaRulesFor, schedulesFor } from './routing';

export class AgentManager extends Construct {
  readonly function: OrchestratorFunction;
  readonly rules: events.Rule[];
  readonly schedules: scheduler.Schedule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    this.function = new OrchestratorFunction(this, 'Manager', {
      defaults: ctx.functions,
      dir: 'agent-manager',
      description: 'verifies and registers agent bundles from the hot directory',
      memoryMb: 512,
      timeout: Duration.minutes(5),
      async: { retryAttempts: 2, maxEventAge: Duration.hours(1) },
    });
    this.function.addToPolicy(
      ...ctx.hot.readBundlesStatements(),
      tableStatement('RegistryReadWrite', ctx.tables.Registry, [...DDB_READ, ...DDB_SCAN, ...DDB_WRITE]),
      putEventsStatement(ctx.bus.bus),
    );
    const fn = this.function.fn;
    this.rules = lambdaRulesFor(this, ctx, 'agent-manager', fn, { retryAttempts: 8, maxEventAge: Duration.hours(2) });
    this.schedules = schedulesFor(this, ctx, 'agent-manager', fn, { retryAttempts: 2, maxEventAge: Duration.hours(1) });
  }
}
