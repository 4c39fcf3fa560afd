/**
 * Digest anchoring: every 5 minutes (schedule LedgerDigest, always on) the ledger-digest
 * function reads the ledger's head and writes it (seq, hash, time) as one object into a bucket
 * with S3 Object Lock in compliance mode: no principal, the account root included, can overwrite
 * or delete an object version before its retention ends (`-c ledgerDigestRetentionDays`, default
 * 365), and the retention of a compliance-mode version cannot be shortened. A rewrite of the
 * ledger's history by someone who can write the table, hashes recomputed, then no longer matches
 * the digests (`GET /ledger/verify?digests=true`).
 *
 * Least privilege: the digest function may read the ledger table and put objects under
 * `ledger-digests/` (and list the versions there, to skip a head anchored already); the API may
 * list those versions (verify). The ledger writer's role has no access to the bucket at all, and
 * nothing has s3:DeleteObject or s3:PutObjectRetention / s3:BypassGovernanceRetention on it.
 *
 * The bucket is always retained when the stack is deleted: locked versions cannot be deleted
 * before their retention ends, so CloudFormation could not delete it anyway.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DIGEST_PREFIX } from '../../shared/adapters/aws/s3-digest-store';
import { tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { schedulesFor } from './routing';

export interface DigestBucketProps {
  /** compliance-mode retention of every digest version, days */
  retentionDays: number;
  /** where the bucket's server access logs go (the hot directory's access-log bucket) */
  accessLogs: s3.IBucket;
}

/** The Object Lock bucket (created before the functions: its name is in their environment). */
export class DigestBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: DigestBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'ledger-digests/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** ARN pattern of the digest objects */
  digestObjectsArn(): string {
    return this.bucket.arnForObjects(`${DIGEST_PREFIX}*`);
  }

  /** What a reader of the digests (verify) needs: the versions under the prefix, listed. */
  readStatement(sid = 'ListLedgerDigests'): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid,
      actions: ['s3:ListBucketVersions'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${DIGEST_PREFIX}*`] } },
    });
  }
}

export class LedgerDigests extends Construct {
  readonly function: OrchestratorFunction;
  readonly schedules: scheduler.Schedule[];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext, digests: DigestBucket) {
    super(scope, id);
    this.function = new OrchestratorFunction(this, 'Digest', {
      defaults: ctx.functions,
      dir: 'ledger-digest',
      description: 'anchors the ledger head in the Object Lock digest bucket',
      memoryMb: 256,
      timeout: Duration.seconds(30),
      // a missed digest is made up by the next one (5 minutes later)
      async: { retryAttempts: 2, maxEventAge: Duration.minutes(5) },
    });
    this.function.addToPolicy(
      tableStatement('LedgerRead', ctx.tables.Ledger, ['dynamodb:GetItem', 'dynamodb:Query']),
      new iam.PolicyStatement({ sid: 'WriteLedgerDigests', actions: ['s3:PutObject'], resources: [digests.digestObjectsArn()] }),
      digests.readStatement(),
    );
    this.schedules = schedulesFor(this, ctx, 'ledger-digest', this.function.fn, { retryAttempts: 2, maxEventAge: Duration.minutes(5) });
  }
}
