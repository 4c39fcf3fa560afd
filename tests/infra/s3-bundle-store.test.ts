/**
 * S3BundleStore against the answers real S3 gives and s3rver never does (issue #10, item 10).
 * S3 answers a GET/HEAD of a missing key with 404 only to callers that also have s3:ListBucket on
 * the bucket; otherwise with 403 (HeadObject/GetObject API reference, "Permissions"). The adapter
 * maps exactly NotFound/NoSuchKey/404 to "missing" and keeps a 403 an error (the SDK's own, its
 * message naming both possible causes). The stack side (ListBucket on the roles) is asserted in the last block.
 *
 * aws-sdk-client-mock for the behaviour; a fake HTTP handler under a real S3Client for what the
 * SDK's own deserializer makes of S3's raw 403/404 responses (so the checks match real errors).
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { actionsOf, arnOf, resourcesOf, statementsOfRole, synth, TEST_PUBKEY } from './synth';

const BUCKET = 'hot-bucket';
const KEY = 'agents/echo/1.0.0.mjs';
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

const notFound = () => new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' });
const noSuchKey = () => new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
const denied = (name: 'Forbidden' | 'AccessDenied') =>
  new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: name === 'AccessDenied' ? 'Access Denied' : 'UnknownError',
  });
/** a GetObject Body as the SDK gives it in Node (a Readable; the adapter reads it with a byte cap) */
const body = (text: string) => Readable.from([Buffer.from(text)]) as never;

describe('S3BundleStore with a mocked S3 client', () => {
  let s3: ReturnType<typeof mockClient>;
  const store = new S3BundleStore(new S3Client({ region: 'eu-west-1', credentials: creds }), BUCKET);
  beforeAll(() => {
    s3 = mockClient(S3Client);
  });
  afterAll(() => s3.restore());
  beforeEach(() => s3.reset());

  it('HeadObject 404 NotFound: the object is missing (null)', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    await expect(store.head(KEY)).resolves.toBeNull();
  });

  it('HeadObject 403: the SDK error itself (not "missing"), its message naming both causes (no s3:GetObject, or a missing key without s3:ListBucket)', async () => {
    const original = denied('Forbidden');
    s3.on(HeadObjectCommand).rejects(original);
    const err = await store.head(KEY).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBe(original);
    expect(err).toBeInstanceOf(S3ServiceException);
    expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(403);
    expect((err as Error).message).toMatch(/^S3 denied HeadObject s3:\/\/hot-bucket\/agents\/echo\/1\.0\.0\.mjs \(403 Forbidden\)/);
    expect((err as Error).message).toMatch(/lacks s3:GetObject on the key, or the key does not exist and the role lacks s3:ListBucket/);
  });

  it('GetObject 404 NoSuchKey: missing (null); GetObject 403 AccessDenied: an error', async () => {
    s3.on(GetObjectCommand).rejects(noSuchKey());
    await expect(store.get(KEY, 1024)).resolves.toBeNull();
    s3.reset();
    s3.on(GetObjectCommand).rejects(denied('AccessDenied'));
    await expect(store.get(KEY, 1024)).rejects.toThrow(/^S3 denied GetObject .*\(403 AccessDenied\).*s3:ListBucket.*Access Denied$/);
  });

  it('the sidecar lookup: a 404 sidecar means "no signature", a 403 sidecar is an error (never silently unsigned)', async () => {
    s3.on(GetObjectCommand, { Key: KEY }).resolves({ Body: body('export default {}'), Metadata: {} });
    s3.on(GetObjectCommand, { Key: `${KEY}.sig` }).rejects(noSuchKey());
    await expect(store.get(KEY, 1024)).resolves.toMatchObject({ key: KEY, signature: undefined });

    s3.reset();
    s3.on(GetObjectCommand, { Key: KEY }).resolves({ Body: body('export default {}'), Metadata: {} });
    s3.on(GetObjectCommand, { Key: `${KEY}.sig` }).rejects(denied('AccessDenied'));
    await expect(store.get(KEY, 1024)).rejects.toThrow(
      /^S3 denied GetObject s3:\/\/hot-bucket\/agents\/echo\/1\.0\.0\.mjs\.sig \(403 AccessDenied\)/,
    );
  });

  it('other failures (throttling, 5xx) pass through unchanged for the caller’s retries', async () => {
    const slowDown = new S3ServiceException({
      name: 'SlowDown',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
      message: 'Please reduce your request rate.',
    });
    s3.on(HeadObjectCommand).rejects(slowDown);
    await expect(store.head(KEY)).rejects.toBe(slowDown);
  });
});

describe('S3BundleStore on the SDK’s own parsing of S3’s raw answers', () => {
  /** an S3Client whose HTTP layer answers every request with `status` (and `xml` as the body) */
  function clientAnswering(status: number, xml = ''): S3Client {
    return new S3Client({
      region: 'eu-west-1',
      credentials: creds,
      maxAttempts: 1,
      requestHandler: {
        handle: async () => ({
          response: {
            statusCode: status,
            reason: '',
            headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'R1' },
            body: Readable.from(xml ? [Buffer.from(xml)] : []),
          },
        }),
      } as never,
    });
  }
  const xmlError = (code: string, message: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>R1</RequestId></Error>`;

  it('HEAD 404 (no body) → null; HEAD 403 (no body) → the error, explained', async () => {
    await expect(new S3BundleStore(clientAnswering(404), BUCKET).head(KEY)).resolves.toBeNull();
    await expect(new S3BundleStore(clientAnswering(403), BUCKET).head(KEY)).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
      message: expect.stringMatching(/^S3 denied HeadObject .*s3:ListBucket/),
    });
  });

  it('GET 404 NoSuchKey → null; GET 403 AccessDenied → the error, explained', async () => {
    await expect(
      new S3BundleStore(clientAnswering(404, xmlError('NoSuchKey', 'The specified key does not exist.')), BUCKET).get(KEY, 1024),
    ).resolves.toBeNull();
    await expect(
      new S3BundleStore(clientAnswering(403, xmlError('AccessDenied', 'Access Denied')), BUCKET).get(KEY, 1024),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringMatching(/^S3 denied GetObject .*s3:ListBucket/),
    });
  });
});

describe('the stack gives every role that reads bundles s3:ListBucket on the hot directory, and nothing broader', () => {
  const { stack, resources, id } = synth({ trustedKeys: TEST_PUBKEY }, { nag: false });
  const bucketArn = arnOf(id(stack.hotDirectory.bucket));
  const readers = Object.entries(stack.functions).filter(([, f]) =>
    statementsOfRole(resources, id(f.role)).some((st) => actionsOf(st).includes('s3:GetObject')),
  );

  it('the readers are the agent manager and the runner', () => {
    expect(readers.map(([n]) => n).sort()).toEqual(['AgentManager', 'Runner']);
  });

  for (const name of ['AgentManager', 'Runner']) {
    it(`${name}: s3:ListBucket on the bucket ARN only, unconditioned; s3:GetObject only under agents/`, () => {
      const f = stack.functions[name];
      const sts = statementsOfRole(resources, id(f?.role as never));
      const list = sts.filter((st) => actionsOf(st).includes('s3:ListBucket'));
      expect(list).toHaveLength(1);
      expect(resourcesOf(list[0] as never)).toEqual([bucketArn]);
      expect(list[0]?.Condition).toBeUndefined();
      const s3Actions = new Set(sts.flatMap(actionsOf).filter((a) => a.startsWith('s3:')));
      expect([...s3Actions].sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
      const get = sts.filter((st) => actionsOf(st).includes('s3:GetObject')).flatMap(resourcesOf);
      expect(get).toEqual([{ 'Fn::Join': ['', [bucketArn, '/agents/*']] }]);
    });
  }

  it('no other function may touch the hot directory (the digest writer and the API reach the digest bucket only)', () => {
    for (const [name, f] of Object.entries(stack.functions)) {
      if (name === 'AgentManager' || name === 'Runner' || name === 'LedgerDigest' || name === 'Api') continue;
      expect(
        statementsOfRole(resources, id(f.role))
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('s3:')),
        name,
      ).toEqual([]);
    }
  });
});
