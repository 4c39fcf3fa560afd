/**
 * Digest anchoring in the template: an S3 bucket with Object Lock in compliance mode (retention
 * from `-c ledgerDigestRetentionDays`), written only by the digest function on an always-on
 * schedule; the ledger writer's role cannot reach it, nobody may delete or re-lock its objects,
 * and the API may only list the digests (verify?digests=true).
 */
import { describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../shared/definitions/routing';
import { DIGEST_PREFIX } from '../../shared/adapters/aws/s3-digest-store';
import { actionsOf, arnOf, ofType, refOf, resourcesOf, statementsOfRole, synth, TEST_PUBKEY, type Statement } from './synth';

const v = synth({ trustedKeys: TEST_PUBKEY }, { nag: false });
const { stack, resources, id, template } = v;
const bucketId = id(stack.digestBucket.bucket);
const bucketArn = arnOf(bucketId);
const digestObjects = { 'Fn::Join': ['', [bucketArn, `/${DIGEST_PREFIX}*`]] };
const json = (x: unknown) => JSON.stringify(x);
const mentionsBucket = (st: Statement) => json(st.Resource).includes(json(bucketId));
const roleOf = (name: string) => id(stack.functions[name]!.role);

describe('ledger digests: the bucket', () => {
  it('Object Lock in compliance mode with the default retention (365 days), versioned, encrypted, private, TLS only, logged, retained', () => {
    const b = resources[bucketId]!;
    expect(b.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: refOf(id(stack.hotDirectory.accessLogs)), LogFilePrefix: 'ledger-digests/' },
    });
    expect(b.DeletionPolicy).toBe('Retain');
    const policy = ofType(resources, 'AWS::S3::BucketPolicy').find(([, p]) => json(p.Properties?.Bucket) === json(refOf(bucketId)));
    expect(json(policy?.[1].Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it('the retention comes from -c ledgerDigestRetentionDays', () => {
    const other = synth({ trustedKeys: TEST_PUBKEY, ledgerDigestRetentionDays: '30' }, { nag: false });
    expect(other.resources[other.id(other.stack.digestBucket.bucket)]?.Properties?.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } },
    });
  });
});

describe('ledger digests: who may do what', () => {
  const digestRole = roleOf('LedgerDigest');

  it('the digest function: put digests under ledger-digests/, list their versions, read the ledger; nothing else', () => {
    const sts = statementsOfRole(resources, digestRole);
    const by = (sid: string) => sts.find((s) => s.Sid === sid)!;
    expect(actionsOf(by('WriteLedgerDigests'))).toEqual(['s3:PutObject']);
    expect(resourcesOf(by('WriteLedgerDigests'))).toEqual([digestObjects]);
    expect(actionsOf(by('ListLedgerDigests'))).toEqual(['s3:ListBucketVersions']);
    expect(resourcesOf(by('ListLedgerDigests'))).toEqual([bucketArn]);
    expect(by('ListLedgerDigests').Condition).toEqual({ StringLike: { 's3:prefix': [`${DIGEST_PREFIX}*`] } });
    expect(actionsOf(by('LedgerRead')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(resourcesOf(by('LedgerRead'))).toEqual([arnOf(id(stack.tables.tables.Ledger))]);
    // besides its own log group and its on-failure queue (AsyncFailures)
    const all = new Set(sts.flatMap(actionsOf));
    expect([...all].filter((a) => !a.startsWith('logs:') && !a.startsWith('sqs:')).sort()).toEqual(
      ['dynamodb:GetItem', 'dynamodb:Query', 's3:ListBucketVersions', 's3:PutObject'].sort(),
    );
    const sqs = sts.filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap(resourcesOf)).toEqual([arnOf(id(stack.deadLetters.asyncFailures))]);
    const env = resources[id(stack.ledgerDigests.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(env.LEDGER_DIGEST_BUCKET).toEqual(refOf(bucketId));
  });

  it('the ledger writer cannot touch the digest bucket at all', () => {
    const sts = statementsOfRole(resources, roleOf('LedgerWriter'));
    expect(sts.flatMap(actionsOf).filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(sts.some(mentionsBucket)).toBe(false);
  });

  it('the API may only list the digests; only the digest function may put one; nobody may delete or re-lock them', () => {
    const api = statementsOfRole(resources, roleOf('Api')).filter(mentionsBucket);
    expect(api.flatMap(actionsOf)).toEqual(['s3:ListBucketVersions']);
    const forbidden =
      /^s3:(Delete|PutObjectRetention|PutObjectLegalHold|BypassGovernanceRetention|PutBucketObjectLockConfiguration|PutBucketPolicy|PutLifecycleConfiguration|\*)/;
    for (const [name, f] of Object.entries(stack.functions)) {
      const sts = statementsOfRole(resources, id(f.role)).filter(mentionsBucket);
      expect(
        sts.flatMap(actionsOf).filter((a) => forbidden.test(a)),
        name,
      ).toEqual([]);
      if (name !== 'LedgerDigest') expect(sts.flatMap(actionsOf), name).not.toContain('s3:PutObject');
    }
    for (const [rid] of ofType(resources, 'AWS::IAM::Role')) {
      const sts = statementsOfRole(resources, rid).filter(mentionsBucket);
      expect(
        sts.flatMap(actionsOf).filter((a) => forbidden.test(a)),
        rid,
      ).toEqual([]);
    }
  });
});

describe('ledger digests: the schedule', () => {
  it('every 5 minutes, {"action":"digest"} to the digest function, enabled even with every component switched off', () => {
    const def = SCHEDULES.find((s) => s.id === 'LedgerDigest')!;
    expect(def).toMatchObject({ everySeconds: 300, target: 'ledger-digest', input: { action: 'digest' } });
    expect(def.component).toBeUndefined();
    const off = synth({ trustedKeys: TEST_PUBKEY, disable: 'manager,scheduler,runner,monitor,bus' }, { nag: false });
    const schedule = off.resources[off.id(off.stack.scheduleById.LedgerDigest)]!;
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: { Arn: arnOf(off.id(off.stack.ledgerDigests.function.fn)), Input: JSON.stringify({ action: 'digest' }) },
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)', State: 'ENABLED' });
  });

  it('the API carries no switch for it', () => {
    const env = resources[id(stack.api.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(json(env)).not.toContain(json(refOf(id(stack.scheduleById.LedgerDigest))));
    expect(env.LEDGER_DIGEST_BUCKET).toEqual(refOf(bucketId));
  });
});
