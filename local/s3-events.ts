/**
 * Turns s3rver's S3 notification records into the EventBridge events S3 sends in the cloud
 * ("Object Created" / "Object Deleted" on the default bus), so the agent-manager handler gets
 * the same event shape in both modes.
 *
 * The cloud hot directory is versioned, so a DeleteObject there creates a delete marker and S3
 * reports `deletion-type: "Delete Marker Created"` — the only deletion the HotDirectory rule
 * (shared/definitions/routing.ts) matches. s3rver keeps no versions; its removals are reported
 * as that same call would be in the cloud, so local mode deregisters on delete as the cloud does.
 */
import { randomUUID } from 'node:crypto';
import type { S3NotificationRecord } from './emulators';

export interface S3EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': 'Object Created' | 'Object Deleted';
  source: 'aws.s3';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    version: '0';
    bucket: { name: string };
    object: { key: string; size?: number; etag?: string; sequencer?: string };
    reason: string;
    /** Object Deleted only: "Delete Marker Created" (current object gone) or "Permanently Deleted" (one version) */
    'deletion-type'?: 'Delete Marker Created' | 'Permanently Deleted';
  };
}

export function toEventBridge(record: S3NotificationRecord): S3EventBridgeEvent | null {
  const created = record.eventName.startsWith('ObjectCreated:');
  const deleted = record.eventName.startsWith('ObjectRemoved:');
  if (!created && !deleted) return null;
  const bucket = record.s3.bucket.name;
  const obj = record.s3.object;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': created ? 'Object Created' : 'Object Deleted',
    source: 'aws.s3',
    account: '000000000000',
    time: record.eventTime,
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      // S3's EventBridge events carry URL-encoded keys, like its notifications
      object: {
        key: encodeURIComponent(obj.key).replace(/%2F/g, '/'),
        ...(obj.size !== undefined ? { size: obj.size } : {}),
        ...(obj.eTag ? { etag: obj.eTag } : {}),
        ...(obj.sequencer ? { sequencer: obj.sequencer } : {}),
      },
      reason: created ? 'PutObject' : 'DeleteObject',
      ...(deleted ? { 'deletion-type': 'Delete Marker Created' as const } : {}),
    },
  };
}
