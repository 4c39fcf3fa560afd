/**
 * What the first days in a real AWS account would have found (issue #10, items 7–14), each
 * asserted on the synthesized template against what the AWS documentation says the service
 * does — not against an emulator.
 */
import { describe, expect, it } from 'vitest';
import { boundedName } from '../../infra/constructs/names';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { ofType, synth, TEST_PUBKEY } from './synth';

const s = synth({ trustedKeys: TEST_PUBKEY });
const { stack, resources, id } = s;

describe('item 7: a deploy after a destroy, and long stack names', () => {
  it('the schedule group goes with the stack (no Retain): its fixed name is free again after cdk destroy', () => {
    const [[gid, group]] = ofType(resources, 'AWS::Scheduler::ScheduleGroup') as [[string, { DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties?: Record<string, unknown> }]];
    expect(gid).toBe(id(stack.schedules.group));
    expect(group.Properties?.Name).toBe('AgentOrchestrator-schedules');
    expect(group.DeletionPolicy).toBe('Delete');
    expect(group.UpdateReplacePolicy).toBe('Delete');
    // only data is retained (retainData=true): tables and buckets, none with a fixed name
    const retained = Object.entries(resources).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(retained.map(([, r]) => r.Type).sort()).toEqual(['AWS::DynamoDB::Table', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::S3::Bucket']);
    for (const [rid, r] of retained) {
      expect(r.Properties?.TableName ?? r.Properties?.BucketName, rid).toBeUndefined();
    }
  });

  const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
  const GROUP_NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;
  const longA = `A${'b'.repeat(99)}x`; // 101 characters, the longest -c stackName accepted
  const longB = `A${'b'.repeat(99)}y`; // same first 100 characters

  it('with the longest stack name, every rule name is distinct and valid, and so is the group name', () => {
    const long = synth({ trustedKeys: TEST_PUBKEY, stackName: longA }, { nag: false });
    expect(long.stack.stackName).toHaveLength(101);
    const names = ofType(long.resources, 'AWS::Events::Rule').map(([, r]) => r.Properties?.Name as string);
    expect(names).toHaveLength(5);
    expect(new Set(names).size).toBe(5);
    for (const n of names) expect(n).toMatch(RULE_NAME);
    const group = ofType(long.resources, 'AWS::Scheduler::ScheduleGroup')[0]?.[1].Properties?.Name as string;
    expect(group).toMatch(GROUP_NAME);
    // the API switches rules by these very names
    const env = long.resources[long.id(long.stack.api.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    for (const rid of ['HotDirectory', 'Delivery', 'Health'] as const) {
      expect(names, rid).toContain(env[CLOUD_ENV.rules[rid]]);
    }
    expect(env[CLOUD_ENV.scheduleGroup]).toBe(group);
  });

  it('two long stack names with the same beginning get different names; short names are unchanged', () => {
    for (const suffix of ['HotDirectory', 'Ledger', 'Delivery', 'Health', 'HealthEvents', 'schedules']) {
      const a = boundedName(longA, suffix, 64);
      const b = boundedName(longB, suffix, 64);
      expect(a).toHaveLength(64);
      expect(a.endsWith(`-${suffix}`)).toBe(true);
      expect(a).not.toBe(b);
      expect(boundedName('AgentOrchestrator', suffix, 64)).toBe(`AgentOrchestrator-${suffix}`);
    }
  });
});
