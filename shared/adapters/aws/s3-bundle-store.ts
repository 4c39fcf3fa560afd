/**
 * S3 adapter of the BundleStore port (the hot directory).
 *
 * A missing key is `null` only when S3 says so: 404 (`NotFound` for HEAD, `NoSuchKey` for GET).
 * S3 answers 404 only to callers that also have `s3:ListBucket` on the bucket; without it a
 * missing key is 403 AccessDenied, indistinguishable from a real denial, so a 403 stays an error
 * (the stack grants ListBucket, see infra/constructs/hot-directory.ts). The SDK's error is kept as
 * it is (its type, `$metadata`, how callers classify it); only its message says what a 403 means.
 *
 * Every read is bounded (issue #10, item 3): one GET per object (no HEAD before it, so what is
 * checked is what is read), its Content-Length checked before the body is touched, and the body
 * read with a byte cap: the stream is destroyed as soon as the cap is exceeded, whatever the
 * headers said. A bundle over the cap is a BundleRejectedError `too_large`, a `.sig` sidecar over
 * SIDECAR_MAX_BYTES a `malformed_signature`; the bytes returned are exactly the bytes read.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { BundleObject, BundleStore, StoredObject } from '../../core/ports';
import { SIDECAR_MAX_BYTES, SIDECAR_SUFFIX } from '../../core/bundle/identity';
import { BundleRejectedError } from '../../core/errors';

type S3Failure = { name?: string; $metadata?: { httpStatusCode?: number } };

function isNotFound(e: unknown): boolean {
  const err = e as S3Failure;
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
}

/** a 403 from GET/HEAD: the same error, its message naming both possible causes */
function explainDenied(e: unknown, op: string, bucket: string, key: string): unknown {
  const err = e as S3Failure;
  if (!(e instanceof Error) || (err.$metadata?.httpStatusCode !== 403 && err.name !== 'AccessDenied' && err.name !== 'Forbidden')) return e;
  e.message = `S3 denied ${op} s3://${bucket}/${key} (403 ${err.name ?? ''}): the role lacks s3:GetObject on the key, or the key does not exist and the role lacks s3:ListBucket on the bucket (S3 then answers 403 instead of 404). ${e.message}`;
  return e;
}

export class S3BundleStore implements BundleStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async head(key: string): Promise<StoredObject | null> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: out.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw explainDenied(e, 'HeadObject', this.bucket, key);
    }
  }

  /**
   * One GET of `key`, its body read up to `cap` bytes: `over` (with the size when S3 said it)
   * when the object is larger, the stream destroyed at that point; null when it does not exist.
   */
  private async getCapped(
    key: string,
    cap: number,
  ): Promise<{ bytes: Uint8Array; metadata: Record<string, string> } | { over: number | null } | null> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw explainDenied(e, 'GetObject', this.bucket, key);
    }
    const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => void }) | undefined;
    const metadata = out.Metadata ?? {};
    if (out.ContentLength !== undefined && out.ContentLength > cap) {
      body?.destroy?.();
      return { over: out.ContentLength };
    }
    if (!body) return { bytes: new Uint8Array(), metadata };
    const chunks: Uint8Array[] = [];
    let n = 0;
    // leaving the loop early (return) ends the iterator, which destroys the stream
    for await (const chunk of body) {
      n += chunk.byteLength;
      if (n > cap) {
        body.destroy?.();
        return { over: null };
      }
      chunks.push(chunk);
    }
    return { bytes: new Uint8Array(Buffer.concat(chunks, n)), metadata };
  }

  async get(key: string, maxBytes: number): Promise<BundleObject | null> {
    const obj = await this.getCapped(key, maxBytes);
    if (!obj) return null;
    if ('over' in obj)
      throw new BundleRejectedError(
        'too_large',
        obj.over !== null ? `bundle is ${obj.over} bytes, over the limit of ${maxBytes}` : `bundle is over the limit of ${maxBytes} bytes`,
        { key, ...(obj.over !== null ? { size: obj.over } : {}), maxBytes },
      );
    let signature = obj.metadata.signature;
    if (!signature) {
      const sidecar = await this.getCapped(key + SIDECAR_SUFFIX, SIDECAR_MAX_BYTES);
      if (sidecar && 'over' in sidecar)
        throw new BundleRejectedError('malformed_signature', `the signature sidecar is over ${SIDECAR_MAX_BYTES} bytes`, {
          key,
          sidecar: key + SIDECAR_SUFFIX,
        });
      if (sidecar) signature = new TextDecoder().decode(sidecar.bytes).trim();
    }
    return { key, bytes: obj.bytes, signature, signer: obj.metadata.signer };
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async put(key: string, bytes: Uint8Array, metadata: Record<string, string>): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, Metadata: metadata, ContentType: 'text/javascript' }),
    );
  }
}
