/**
 * The EventBridge Scheduler side shared by the components: one schedule group for the stack's
 * schedules and the one role Scheduler assumes to invoke the targets (each LambdaInvoke target
 * adds lambda:InvokeFunction on its function, and sqs:SendMessage on the dead-letter queue).
 * The API's component switches need both: UpdateSchedule takes the group and the role back.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MAX_SCHEDULE_GROUP_NAME, stackScopedName } from './names';

export class Schedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    // The group holds nothing but this stack's schedules: it goes with the stack. Retained (the
    // L2 default), its fixed name would make the next deploy after a destroy fail ("already exists").
    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      scheduleGroupName: stackScopedName(this, 'schedules', MAX_SCHEDULE_GROUP_NAME),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      description: 'EventBridge Scheduler invokes the orchestrator functions',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
  }
}
