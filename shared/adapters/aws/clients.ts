/**
 * AWS SDK clients, created once per process (Lambda: at module scope, reused across
 * invocations) and injectable everywhere. Local mode points the very same clients at
 * DynamoDB Local and s3rver through `endpoints`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

export interface ClientOptions {
  region?: string;
  endpoints?: { dynamodb?: string; s3?: string };
  /** local emulators accept any credentials; the cloud uses the default provider chain */
  localCredentials?: boolean;
  /** with localCredentials: the access key id of DynamoDB Local's namespace (see createLocalClients) */
  dynamoKeyId?: string;
  maxAttempts?: number;
}

export interface AwsClients {
  ddbRaw: DynamoDBClient;
  ddb: DynamoDBDocumentClient;
  s3: S3Client;
  eventBridge: EventBridgeClient;
}

// s3rver knows one key pair, S3RVER/S3RVER; DynamoDB Local accepts any credentials.
const LOCAL_CREDS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export function createClients(opts: ClientOptions = {}): AwsClients {
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const credentials = opts.localCredentials ? LOCAL_CREDS : undefined;
  const common = { region, ...(credentials ? { credentials } : {}), ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}) };
  const ddbCreds =
    opts.localCredentials && opts.dynamoKeyId ? { credentials: { accessKeyId: opts.dynamoKeyId, secretAccessKey: 'local' } } : {};
  const ddbRaw = new DynamoDBClient({ ...common, ...ddbCreds, ...(opts.endpoints?.dynamodb ? { endpoint: opts.endpoints.dynamodb } : {}) });
  const ddb = DynamoDBDocumentClient.from(ddbRaw, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const s3 = new S3Client({
    ...common,
    ...(opts.endpoints?.s3 ? { endpoint: opts.endpoints.s3, forcePathStyle: true } : {}),
    // s3rver does not implement the flexible checksums the SDK adds by default; S3 accepts both.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const eventBridge = new EventBridgeClient(common);
  return { ddbRaw, ddb, s3, eventBridge };
}

/**
 * Local mode's clients for given emulator endpoints; `dynamoKeyId`: the secret access key id of
 * local mode's DynamoDB Local namespace (local/emulators.ts), else the shared one.
 */
export function createLocalClients(endpoints: { dynamodb: string; s3: string }, dynamoKeyId?: string): AwsClients {
  return createClients({ region: 'us-east-1', endpoints, localCredentials: true, ...(dynamoKeyId ? { dynamoKeyId } : {}) });
}
