/** Errors of the ledger core. */
import { OrchestratorError } from '../errors';

/** A value that cannot be canonicalized (not JSON). */
export class LedgerEncodingError extends OrchestratorError {
  override name = 'LedgerEncodingError';
  constructor(message: string) {
    super('invalid_ledger_value', message);
  }
}

/** A ledger query or replay request that is not acceptable (client mistake: 400). */
export class LedgerRequestError extends OrchestratorError {
  override name = 'LedgerRequestError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_ledger_request', message, details);
  }
}

/** Appends kept losing races with another writer (should not happen with the single FIFO writer). */
export class LedgerConflictError extends OrchestratorError {
  override name = 'LedgerConflictError';
  override readonly retryable = true;
  constructor(message: string) {
    super('ledger_append_conflict', message);
  }
}

/** A stored entry that cannot be read back (tampered or damaged); `verify` reports its seq. */
export class LedgerCorruptError extends OrchestratorError {
  override name = 'LedgerCorruptError';
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super('ledger_corrupt', `ledger entry ${seq} is unreadable: ${message}; run GET /ledger/verify`, { seq });
  }
}
