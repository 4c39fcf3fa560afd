/**
 * Router: rule Delivery (every envelope except `agent.cycle`) → the router function, which finds
 * the recipients in the registry and sends `envelope` runs to the dispatch queue. Registry read
 * only; SendMessage to the dispatch queue.
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { DDB_READ, DDB_SCAN, sendStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { lambdaRulesFor } from './routing';

export class Router extends Construct {
  readonly function: OrchestratorFunction;
  readonly rules: events.Rule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    this.function = new OrchestratorFunction(this, 'Router', {
      defaults: ctx.functions,
      dir: 'router',
      description: "routes envelopes to subscribed agents' onEnvelope",
      memoryMb: 512,
      timeout: Duration.seconds(30),
      async: { retryAttempts: 2, maxEventAge: Duration.hours(1) },
    });
    this.function.addToPolicy(
      tableStatement('RegistryRead', ctx.tables.Registry, [...DDB_READ, ...DDB_SCAN]),
      sendStatement('DispatchEnvelopes', ctx.dispatchQueue),
    );
    this.rules = lambdaRulesFor(this, ctx, 'router', this.function.fn, { retryAttempts: 8, maxEventAge: Duration.hours(1) });
  }
}
