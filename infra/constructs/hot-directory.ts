/**
 * The hot directory: the S3 bucket agents are published to (`agents/<name>/<version>.mjs`).
 * Encrypted (SSE-S3), versioned (a bundle overwritten or deleted by mistake can be recovered;
 * superseded versions expire), public access blocked, TLS enforced, server access logs to a
 * separate bucket, and EventBridge notifications on — the "Object Created/Deleted" events the
 * HotDirectory rule (shared/definitions/routing.ts) matches on the default bus.
 *
 * EventBridge delivery is enabled on the L1 bucket (NotificationConfiguration) rather than with
 * the L2 `eventBridgeEnabled`, which would add a custom-resource Lambda to the stack.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export const BUNDLE_PREFIX = 'agents/';

export interface HotDirectoryProps {
  retainData: boolean;
  noncurrentBundleDays: number;
  accessLogDays: number;
}

export class HotDirectory extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: HotDirectoryProps) {
    super(scope, id);
    const removalPolicy = props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogDays) }],
      removalPolicy,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'hot-directory/',
      lifecycleRules: [
        {
          id: 'expire-superseded-bundles',
          noncurrentVersionExpiration: Duration.days(props.noncurrentBundleDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
    });
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
  }

  /** ARN pattern of the bundle objects (`agents/*`) */
  bundleObjectsArn(): string {
    return this.bucket.arnForObjects(`${BUNDLE_PREFIX}*`);
  }

  /**
   * What a role that reads bundles needs: `s3:GetObject` on `agents/*`, and `s3:ListBucket` on
   * the bucket. Without ListBucket, S3 answers a GET/HEAD of a missing key with 403 AccessDenied
   * instead of 404 (HeadObject/GetObject "Permissions"), and the sidecar lookup, the manager's
   * "object no longer exists" and the runner's unavailable-bundle paths become AccessDenied
   * errors, retries and dead letters. ListBucket is granted on this bucket without an
   * `s3:prefix` condition: AWS documents the 404 for "the s3:ListBucket permission on the
   * bucket" and not how that implicit check fills `s3:prefix`. The bucket holds only bundles
   * (access logs go to their own bucket), so listing it reveals bundle keys and nothing else.
   */
  readBundlesStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({ sid: 'ReadBundles', actions: ['s3:GetObject'], resources: [this.bundleObjectsArn()] }),
      new iam.PolicyStatement({ sid: 'ListHotDirectory', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    ];
  }
}
