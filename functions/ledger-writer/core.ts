/**
 * The ledger-writer handler (its Lambda and local mode run it; built by functions/compose.ts):
 * appends every bus envelope to the ledger (rule Ledger → SQS FIFO queue with one message group
 * → this function, so appends are serial). Thin: parses the event with
 * zod, hands the envelopes to LedgerService.append (one call per batch: one block, i.e. one
 * conditional write, per commit; docs/ledger.md), maps the outcome back.
 *
 * - A record that does not carry a valid envelope event is logged and skipped: retrying cannot
 *   fix it, and it must not block the FIFO group.
 * - A failing append throws: SQS redelivers the whole batch (FIFO order kept), and the append is
 *   idempotent because event ids already recorded are skipped.
 * - An event that is neither an SQS batch nor an EventBridge event is refused (ValidationError).
 *
 * Local mode's bus hands it the same SQS-shaped batches the FIFO queue does.
 */
import type { LedgerService } from '../../shared/core/ledger/service';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { envelopesOfQueuedEvent } from '../queued-bus-events';

export interface LedgerWriterDeps {
  ledger: Pick<LedgerService, 'append'>;
  logger?: Logger;
}

export interface LedgerWriterResult {
  /** SQS partial-batch response: always empty (a failure throws and the batch is redelivered) */
  batchItemFailures: { itemIdentifier: string }[];
  appended: number;
  duplicates: number;
  /** records skipped because they carry no valid envelope event */
  invalid: number;
  /** seq of the last entry appended by this call, if any */
  lastSeq: number | null;
}

export function createLedgerWriterHandler(deps: LedgerWriterDeps): (event: unknown) => Promise<LedgerWriterResult> {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown) => {
    const { envelopes, invalid } = envelopesOfQueuedEvent(event, 'ledger-writer', log);
    const res = envelopes.length ? await deps.ledger.append(envelopes) : { appended: [], duplicates: [] };
    const last = res.appended[res.appended.length - 1];
    if (res.appended.length) log.debug('ledger appended', { count: res.appended.length, lastSeq: last?.seq });
    return { batchItemFailures: [], appended: res.appended.length, duplicates: res.duplicates.length, invalid, lastSeq: last?.seq ?? null };
  };
}
