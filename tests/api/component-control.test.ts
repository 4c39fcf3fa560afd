/**
 * Cloud component switches (AwsComponentControl) with aws-sdk-client-mock — EventBridge
 * Scheduler, EventBridge rules and Lambda event source mappings have no emulator — asserting the
 * exact requests: UpdateSchedule sends the whole schedule definition back with only State
 * changed, rules on the right bus, the runner's mapping by UUID; a component's other resources
 * and the other components are untouched.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { GetScheduleCommand, SchedulerClient, UpdateScheduleCommand, type GetScheduleCommandOutput } from '@aws-sdk/client-scheduler';
import { DescribeRuleCommand, DisableRuleCommand, EnableRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { AwsComponentControl, switchIdsFromEnv } from '../../shared/adapters/aws/component-control';
import { ComponentSwitchError } from '../../shared/adapters/aws/errors';
import { ValidationError } from '../../shared/core/errors';
import { ComponentNotConfiguredError } from '../../shared/core/control/errors';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';

const scheduler = mockClient(SchedulerClient);
const eventBridge = mockClient(EventBridgeClient);
const lambda = mockClient(LambdaClient);

const ENV: Record<string, string> = {
  [CLOUD_ENV.scheduleGroup]: 'orch-group',
  [CLOUD_ENV.schedules.SchedulerTick]: 'orch-tick',
  [CLOUD_ENV.schedules.HealthSweep]: 'orch-sweep',
  [CLOUD_ENV.schedules.Rescan]: 'orch-rescan',
  [CLOUD_ENV.rules.HotDirectory]: 'orch-hotdir',
  [CLOUD_ENV.rules.Delivery]: 'orch-delivery',
  [CLOUD_ENV.rules.Health]: 'orch-health',
  [CLOUD_ENV.runnerEsmUuid]: '0f6a4c1e-1111-2222-3333-444455556666',
};

const tickDefinition = (state: 'ENABLED' | 'DISABLED'): GetScheduleCommandOutput => ({
  $metadata: {},
  Arn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/orch-group/orch-tick',
  Name: 'orch-tick',
  GroupName: 'orch-group',
  State: state,
  Description: 'dispatch the slots due before the next tick',
  ScheduleExpression: 'rate(1 minute)',
  ScheduleExpressionTimezone: 'UTC',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Target: {
    Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:orch-scheduler',
    RoleArn: 'arn:aws:iam::123456789012:role/orch-scheduler-role',
    Input: '{"action":"tick"}',
    RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 0 },
    DeadLetterConfig: { Arn: 'arn:aws:sqs:eu-west-1:123456789012:orch-dlq' },
  },
  ActionAfterCompletion: 'NONE',
  CreationDate: new Date('2026-01-01T00:00:00Z'),
  LastModificationDate: new Date('2026-01-02T00:00:00Z'),
});

let control: AwsComponentControl;

beforeEach(() => {
  scheduler.reset();
  eventBridge.reset();
  lambda.reset();
  control = new AwsComponentControl(
    {
      scheduler: scheduler as unknown as SchedulerClient,
      eventBridge: eventBridge as unknown as EventBridgeClient,
      lambda: lambda as unknown as LambdaClient,
    } as never,
    switchIdsFromEnv(ENV, 'orch-bus'),
  );
});

describe('switchIdsFromEnv', () => {
  it('reads the names of shared/definitions/cloud-env.ts; HotDirectory is on the default bus', () => {
    expect(switchIdsFromEnv(ENV, 'orch-bus')).toEqual({
      scheduleGroup: 'orch-group',
      schedules: { SchedulerTick: 'orch-tick', HealthSweep: 'orch-sweep', Rescan: 'orch-rescan' },
      rules: {
        HotDirectory: { name: 'orch-hotdir', eventBusName: 'default' },
        Delivery: { name: 'orch-delivery', eventBusName: 'orch-bus' },
        Health: { name: 'orch-health', eventBusName: 'orch-bus' },
      },
      runnerEventSourceMappingUuid: '0f6a4c1e-1111-2222-3333-444455556666',
    });
  });
});

describe('AwsComponentControl', () => {
  it('stopping the scheduler writes the full schedule back with State DISABLED, and nothing else', async () => {
    scheduler.on(GetScheduleCommand).resolvesOnce(tickDefinition('ENABLED')).resolves(tickDefinition('DISABLED'));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: tickDefinition('ENABLED').Arn });
    const state = await control.set('scheduler', false);
    expect(state).toEqual({ name: 'scheduler', running: false });
    expect(scheduler.commandCalls(GetScheduleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'orch-tick', GroupName: 'orch-group' },
      { Name: 'orch-tick', GroupName: 'orch-group' },
    ]);
    const updates = scheduler.commandCalls(UpdateScheduleCommand);
    expect(updates).toHaveLength(1);
    const def = tickDefinition('ENABLED');
    expect(updates[0]?.args[0].input).toEqual({
      Name: 'orch-tick',
      GroupName: 'orch-group',
      ScheduleExpression: 'rate(1 minute)',
      ScheduleExpressionTimezone: 'UTC',
      Description: def.Description,
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: def.Target,
      ActionAfterCompletion: 'NONE',
      State: 'DISABLED',
    });
    expect(eventBridge.calls()).toHaveLength(0);
    expect(lambda.calls()).toHaveLength(0);
  });

  it('a schedule already in the wanted state is not rewritten', async () => {
    scheduler.on(GetScheduleCommand).resolves(tickDefinition('ENABLED'));
    expect(await control.set('scheduler', true)).toEqual({ name: 'scheduler', running: true });
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
  });

  it('the monitor is its Health rule (agents bus) and the HealthSweep schedule', async () => {
    const sweep = {
      ...tickDefinition('ENABLED'),
      Name: 'orch-sweep',
      ScheduleExpression: 'rate(1 minute)',
      Target: { ...tickDefinition('ENABLED').Target, Input: '{"action":"sweep"}' },
    } as GetScheduleCommandOutput;
    scheduler
      .on(GetScheduleCommand)
      .resolvesOnce(sweep)
      .resolves({ ...sweep, State: 'DISABLED' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'x' });
    eventBridge.on(DisableRuleCommand).resolves({});
    eventBridge.on(DescribeRuleCommand).resolves({ Name: 'orch-health', State: 'DISABLED' });
    expect(await control.set('monitor', false)).toEqual({ name: 'monitor', running: false });
    expect(eventBridge.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'orch-health', EventBusName: 'orch-bus' },
    ]);
    expect(eventBridge.commandCalls(EnableRuleCommand)).toHaveLength(0);
    expect(
      scheduler
        .commandCalls(UpdateScheduleCommand)
        .map((c) => [c.args[0].input.Name, c.args[0].input.State, c.args[0].input.Target?.Input]),
    ).toEqual([['orch-sweep', 'DISABLED', '{"action":"sweep"}']]);
  });

  it('the manager is the HotDirectory rule on the default bus plus the Rescan schedule; starting enables them', async () => {
    const rescan = { ...tickDefinition('DISABLED'), Name: 'orch-rescan', ScheduleExpression: 'rate(1 day)' } as GetScheduleCommandOutput;
    scheduler
      .on(GetScheduleCommand)
      .resolvesOnce(rescan)
      .resolves({ ...rescan, State: 'ENABLED' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'x' });
    eventBridge.on(EnableRuleCommand).resolves({});
    eventBridge.on(DescribeRuleCommand).resolves({ Name: 'orch-hotdir', State: 'ENABLED' });
    expect(await control.set('manager', true)).toEqual({ name: 'manager', running: true });
    expect(eventBridge.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'orch-hotdir', EventBusName: 'default' },
    ]);
    expect(
      scheduler
        .commandCalls(UpdateScheduleCommand)
        .map((c) => [c.args[0].input.Name, c.args[0].input.State, c.args[0].input.ScheduleExpression]),
    ).toEqual([['orch-rescan', 'ENABLED', 'rate(1 day)']]);
  });

  it('the bus is the Delivery rule only (the Ledger rule is never switched)', async () => {
    eventBridge.on(DisableRuleCommand).resolves({});
    eventBridge.on(DescribeRuleCommand).resolves({ State: 'DISABLED' });
    expect(await control.set('bus', false)).toEqual({ name: 'bus', running: false });
    expect(eventBridge.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'orch-delivery', EventBusName: 'orch-bus' },
    ]);
    expect(scheduler.calls()).toHaveLength(0);
  });

  it('the runner is its SQS event source mapping: disabled by UUID, queued runs wait', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({ UUID: ENV[CLOUD_ENV.runnerEsmUuid], State: 'Disabling' });
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: ENV[CLOUD_ENV.runnerEsmUuid], State: 'Disabling' });
    expect(await control.set('runner', false)).toEqual({ name: 'runner', running: false });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([
      { UUID: '0f6a4c1e-1111-2222-3333-444455556666', Enabled: false },
    ]);
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabling' });
    lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Enabling' });
    expect(await control.set('runner', true)).toEqual({ name: 'runner', running: true });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).at(-1)?.args[0].input).toEqual({
      UUID: '0f6a4c1e-1111-2222-3333-444455556666',
      Enabled: true,
    });
  });

  it('list reads every resource; a component runs only when all of its resources are enabled', async () => {
    scheduler.on(GetScheduleCommand, { Name: 'orch-tick' }).resolves(tickDefinition('ENABLED'));
    scheduler.on(GetScheduleCommand, { Name: 'orch-sweep' }).resolves({ ...tickDefinition('DISABLED'), Name: 'orch-sweep' });
    scheduler.on(GetScheduleCommand, { Name: 'orch-rescan' }).resolves({ ...tickDefinition('ENABLED'), Name: 'orch-rescan' });
    eventBridge.on(DescribeRuleCommand).resolves({ State: 'ENABLED' });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    expect(await control.list()).toEqual([
      { name: 'manager', running: true },
      { name: 'scheduler', running: true },
      { name: 'runner', running: true },
      { name: 'monitor', running: false },
      { name: 'bus', running: true },
    ]);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
    expect(
      eventBridge
        .commandCalls(DescribeRuleCommand)
        .map((c) => c.args[0].input)
        .sort((a, b) => String(a.Name).localeCompare(String(b.Name))),
    ).toEqual([
      { Name: 'orch-delivery', EventBusName: 'orch-bus' },
      { Name: 'orch-health', EventBusName: 'orch-bus' },
      { Name: 'orch-hotdir', EventBusName: 'default' },
    ]);
  });

  it('AWS failures become ComponentSwitchError; unknown components ValidationError', async () => {
    scheduler.on(GetScheduleCommand).rejects(new Error('AccessDeniedException: not authorized'));
    await expect(control.set('scheduler', false)).rejects.toThrow(ComponentSwitchError);
    await expect(control.set('scheduler', false)).rejects.toThrow(/disabling schedule orch-group\/orch-tick failed: AccessDenied/);
    await expect(control.set('database' as never, false)).rejects.toThrow(ValidationError);
    const bare = new AwsComponentControl({ scheduler, eventBridge, lambda } as never, { schedules: {}, rules: {} });
    await expect(bare.set('runner', false)).rejects.toThrow(/no switchable resources/);
  });

  it('kafka, when deployed, is the bridge’s event source mappings: listed, stopped and started by UUID; absent otherwise', async () => {
    const uuids = ['11111111-aaaa-bbbb-cccc-000000000001', '11111111-aaaa-bbbb-cccc-000000000002', '11111111-aaaa-bbbb-cccc-000000000003'];
    const withKafka = new AwsComponentControl(
      { scheduler, eventBridge, lambda } as never,
      switchIdsFromEnv({ ...ENV, [CLOUD_ENV.kafkaEsmUuids]: uuids.join(',') }, 'orch-bus'),
    );
    expect(switchIdsFromEnv({ ...ENV, [CLOUD_ENV.kafkaEsmUuids]: uuids.join(',') }, 'orch-bus').kafkaEventSourceMappingUuids).toEqual(
      uuids,
    );
    const states = new Map(uuids.map((u) => [u, 'Enabled']));
    lambda.on(GetEventSourceMappingCommand).callsFake((input: { UUID: string }) => ({ State: states.get(input.UUID) ?? 'Enabled' }));
    lambda.on(UpdateEventSourceMappingCommand).callsFake((input: { UUID: string; Enabled: boolean }) => {
      states.set(input.UUID, input.Enabled ? 'Enabled' : 'Disabled');
      return {};
    });
    scheduler.on(GetScheduleCommand).resolves(tickDefinition('ENABLED'));
    eventBridge.on(DescribeRuleCommand).resolves({ State: 'ENABLED' });
    expect((await withKafka.list()).map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus', 'kafka']);

    expect(await withKafka.set('kafka', false)).toEqual({ name: 'kafka', running: false });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual(
      uuids.map((UUID) => ({ UUID, Enabled: false })),
    );
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
    expect(eventBridge.commandCalls(DisableRuleCommand)).toHaveLength(0);
    expect(await withKafka.set('kafka', true)).toEqual({ name: 'kafka', running: true });

    // without the bridge: not listed, and switching it says it is not configured (404)
    expect((await control.list()).map((c) => c.name)).not.toContain('kafka');
    await expect(control.set('kafka', false)).rejects.toThrow(ComponentNotConfiguredError);
  });
});
