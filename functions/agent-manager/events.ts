/** zod schemas of what the agent-manager function accepts. */
import { z } from 'zod';

/** S3 → EventBridge event ("Object Created" / "Object Deleted"), the fields we use. */
export const S3EventBridgeSchema = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.enum(['Object Created', 'Object Deleted']),
  detail: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({ key: z.string().min(1), size: z.number().int().nonnegative().optional() }),
  }),
});
export type S3EventBridgeEvent = z.infer<typeof S3EventBridgeSchema>;

export const RescanSchema = z.object({ action: z.literal('rescan') }).strict();

export const ManagerEventSchema = z.union([S3EventBridgeSchema, RescanSchema]);
export type ManagerEvent = z.infer<typeof ManagerEventSchema>;
