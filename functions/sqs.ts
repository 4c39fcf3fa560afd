/**
 * SQS event sources, record by record (partial batch responses, `ReportBatchItemFailures`): each
 * record's body is parsed as JSON and handed to `handle`; what happens to a record that throws
 * follows the error's retry semantics (shared/core/errors.ts): a retryable error is a batch item
 * failure (SQS redelivers that message after its visibility timeout, up to maxReceiveCount, then
 * the dead-letter queue); an error a retry cannot fix (a body that is not JSON or not the
 * expected message) is logged and the record dropped, so it does not loop until the DLQ.
 */
import { z } from 'zod';
import { isRetryable, ValidationError } from '../shared/core/errors';
import type { Logger } from '../shared/core/logger';

export const SqsEventSchema = z.object({
  Records: z.array(z.object({ messageId: z.string().min(1), body: z.string() }).loose()),
});

export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export function sqsBatchHandler(
  what: string,
  handle: (body: unknown, messageId: string) => Promise<void>,
  logger: Logger,
): (event: unknown) => Promise<SqsBatchResponse> {
  return async (event) => {
    const parsed = SqsEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported ${what} event: ${z.prettifyError(parsed.error)}`);
    const batchItemFailures: SqsBatchResponse['batchItemFailures'] = [];
    for (const rec of parsed.data.Records) {
      let body: unknown;
      try {
        body = JSON.parse(rec.body);
      } catch (e) {
        logger.error('dropped a record whose body is not JSON', { messageId: rec.messageId, error: (e as Error).message });
        continue;
      }
      try {
        await handle(body, rec.messageId);
      } catch (e) {
        if (isRetryable(e)) {
          logger.error('record failed on an error a retry may fix; SQS will redeliver it', { messageId: rec.messageId, error: e });
          batchItemFailures.push({ itemIdentifier: rec.messageId });
        } else logger.error('dropped a record a retry cannot fix', { messageId: rec.messageId, error: e });
      }
    }
    return { batchItemFailures };
  };
}
