/**
 * Dispatcher on the SQS dispatch queue (cloud). One message per run; the per-message delay makes
 * SQS the timer: DelaySeconds = clamp(ceil((notBefore - now) / 1000), 0, 900), so a slot is never
 * delivered before its start. Messages go out in SendMessageBatch requests of at most 10 entries
 * (and 256 KB); entries SQS refuses are retried once (sender faults are not), and what still
 * failed is reported with DispatchError after every batch was tried. Batches go out
 * `concurrency` at a time (default 8): a shard's tick at fleet size hands over thousands of slots.
 */
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { DispatchMessageSchema, type DispatchItem } from '../../core/dispatch';
import type { Dispatcher } from '../../core/ports';
import { systemClock, type Clock } from '../../core/clock';
import { ValidationError } from '../../core/errors';
import { silentLogger, type Logger } from '../../core/logger';
import { DispatchError } from './errors';

export const MAX_DELAY_SECONDS = 900;
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

export function delaySeconds(notBefore: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((notBefore - now) / 1000)));
}

export interface SqsDispatcherOptions {
  clock?: Clock;
  logger?: Logger;
  /** SendMessageBatch requests in flight (default 8) */
  concurrency?: number;
}

export class SqsDispatcher implements Dispatcher {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly concurrency: number;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    opts: SqsDispatcherOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
  }

  async dispatch(items: DispatchItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = this.clock.now();
    const entries = items.map((it, i): SendMessageBatchRequestEntry & { runId: string } => {
      const msg = DispatchMessageSchema.safeParse(it.message);
      if (!msg.success) throw new ValidationError(`invalid dispatch message: ${msg.error.message}`);
      return { Id: String(i), MessageBody: JSON.stringify(msg.data), DelaySeconds: delaySeconds(it.notBefore, now), runId: msg.data.runId };
    });
    const batches: (typeof entries)[] = [];
    let cur: typeof entries = [];
    let bytes = 0;
    for (const e of entries) {
      const size = Buffer.byteLength(e.MessageBody ?? '', 'utf8');
      if (cur.length === MAX_BATCH_ENTRIES || (cur.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
        batches.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(e);
      bytes += size;
    }
    if (cur.length) batches.push(cur);

    const failed: DispatchError['failed'] = [];
    let next = 0;
    const sendBatches = async () => {
      while (next < batches.length) await this.sendBatch(batches[next++] as typeof entries, failed);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, sendBatches));
    if (failed.length) {
      this.log.error('dispatch failed', { failed });
      throw new DispatchError(`${failed.length} of ${items.length} dispatch messages were not accepted by SQS`, failed);
    }
  }

  /** One batch, its entries SQS refused (not for the sender's fault) retried once. */
  private async sendBatch(batch: (SendMessageBatchRequestEntry & { runId: string })[], failed: DispatchError['failed']): Promise<void> {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const out = await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending.map(({ runId: _r, ...e }) => e) }),
      );
      const bad = out.Failed ?? [];
      if (bad.length === 0) break;
      const byId = new Map(pending.map((e) => [e.Id, e]));
      const retry = bad.filter((f) => !f.SenderFault && attempt < 2);
      for (const f of bad.filter((x) => !retry.includes(x))) {
        failed.push({ runId: byId.get(f.Id)?.runId ?? f.Id ?? '?', code: f.Code ?? 'unknown', message: f.Message ?? '' });
      }
      pending = retry.map((f) => byId.get(f.Id)).filter((e): e is (typeof batch)[number] => e !== undefined);
    }
  }
}
