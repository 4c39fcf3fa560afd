/** Translates a manager event to the core and back (shared by the Lambda and local mode). */
import { z } from 'zod';
import { ValidationError } from '../../shared/core/errors';
import type { AgentManager, ManagerOutcome } from '../../shared/core/manager/service';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { ManagerEventSchema } from './events';

export async function handleManagerEvent(manager: AgentManager, raw: unknown, bucket?: string): Promise<ManagerOutcome[]> {
  const parsed = ManagerEventSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(`unsupported agent-manager event: ${z.prettifyError(parsed.error)}`);
  const ev = parsed.data;
  if ('action' in ev) return manager.rescan();
  if (bucket && ev.detail.bucket.name !== bucket)
    return [{ kind: 'ignored', key: ev.detail.object.key, why: `bucket ${ev.detail.bucket.name} is not the hot directory` }];
  // S3 event keys arrive URL-encoded ('+' for spaces), as in S3 notifications.
  const key = decodeURIComponent(ev.detail.object.key.replace(/\+/g, ' '));
  return ev['detail-type'] === 'Object Created'
    ? [await manager.onObjectCreated(key, ev.detail.object.size)]
    : [await manager.onObjectDeleted(key)];
}

// ---- the handler
export interface ManagerHandlerDeps {
  manager: AgentManager;
  /** the hot-directory bucket: events for other buckets are ignored */
  bucket: string;
  logger?: Logger;
}

export function createManagerHandler(deps: ManagerHandlerDeps): (event: unknown) => Promise<{ outcomes: ManagerOutcome[] }> {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown) => {
    const outcomes = await handleManagerEvent(deps.manager, event, deps.bucket);
    for (const o of outcomes) if (o.kind !== 'ignored' && o.kind !== 'unchanged') log.info('manager outcome', { ...o });
    return { outcomes };
  };
}
