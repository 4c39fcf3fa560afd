/**
 * The orchestrator's custom EventBridge bus ("agents"): envelopes go on it with
 * Source = agent-orchestrator, DetailType = topic, Detail = envelope. Everything the
 * orchestrator puts on it is also kept in an EventBridge archive (replayable from the console or
 * `aws events start-replay`, independent of the ledger's own replay).
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { stackScopedName } from './names';

export interface EventBusProps {
  /** 0 = keep forever */
  archiveDays: number;
}

export class AgentsEventBus extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;

  constructor(scope: Construct, id: string, props: EventBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: stackScopedName(this, 'agents', 256),
      description: 'agent orchestrator envelopes (source agent-orchestrator, detail-type = topic)',
    });
    this.archive = this.bus.archive('Archive', {
      description: 'every envelope put on the agents bus',
      eventPattern: { source: [BUS_SOURCE] },
      ...(props.archiveDays > 0 ? { retention: Duration.days(props.archiveDays) } : {}),
    });
  }
}
