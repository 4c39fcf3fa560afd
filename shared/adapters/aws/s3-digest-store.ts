/**
 * The cloud's digest store: one object per digest in an S3 bucket with Object Lock (compliance
 * mode, the bucket's default retention: no one, the root user included, can overwrite or delete
 * a digest's version before its retention ends). The key is the digest itself
 * (`ledger-digests/<record>.json`, the record of shared/core/ledger/digests.ts; the body repeats
 * it as JSON for people), so reading every digest is a listing and no GETs.
 *
 * Digests are listed with ListObjectVersions, not ListObjectsV2: a DELETE without a version id
 * is allowed on a locked object and adds a delete marker that hides the object from a plain
 * listing, while its locked version stays, and is still read here. An object someone else added
 * under the prefix only adds a check (and a key that is not a digest record is ignored).
 *
 * Permissions: the digest writer needs s3:PutObject on `ledger-digests/*` and
 * s3:ListBucketVersions (has); readers (verify) s3:ListBucketVersions. The ledger writer has no
 * access to the bucket at all.
 */
import { ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { iso } from '../../core/clock';
import { digestRecord, digestSeqPrefix, parseDigestRecord } from '../../core/ledger/digests';
import type { LedgerDigest, LedgerDigestStore, StoredDigest } from '../../core/ports';

export const DIGEST_PREFIX = 'ledger-digests/';

export class S3DigestStore implements LedgerDigestStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly prefix = DIGEST_PREFIX,
  ) {}

  get where(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async put(d: LedgerDigest): Promise<StoredDigest> {
    const key = `${this.prefix}${digestRecord(d)}.json`;
    const out = await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: JSON.stringify({ seq: d.seq, hash: d.hash, at: iso(d.at) }),
        ContentType: 'application/json',
        // Object Lock buckets take a PUT only with an integrity checksum
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    return { ...d, ref: out.VersionId ? `${key}?versionId=${out.VersionId}` : key };
  }

  private async *versions(prefix: string, maxKeys?: number): AsyncIterable<{ key: string; versionId: string | undefined }> {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const out = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
          ...(maxKeys !== undefined ? { MaxKeys: maxKeys } : {}),
        }),
      );
      for (const v of out.Versions ?? []) if (v.Key) yield { key: v.Key, versionId: v.VersionId };
      if (maxKeys !== undefined || !out.IsTruncated) return;
      keyMarker = out.NextKeyMarker;
      versionMarker = out.NextVersionIdMarker;
    } while (keyMarker);
  }

  async list(): Promise<StoredDigest[]> {
    const out: StoredDigest[] = [];
    for await (const v of this.versions(this.prefix)) {
      const name = v.key.slice(this.prefix.length).replace(/\.json$/, '');
      const d = parseDigestRecord(name);
      if (d) out.push({ ...d, ref: v.versionId ? `${v.key}?versionId=${v.versionId}` : v.key });
    }
    return out.sort((a, b) => a.seq - b.seq || a.at - b.at);
  }

  async has(seq: number): Promise<boolean> {
    for await (const _ of this.versions(`${this.prefix}${digestSeqPrefix(seq)}-`, 1)) return true;
    return false;
  }
}
