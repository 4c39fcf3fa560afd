/** Errors of the ledger core. */
import { OrchestratorError, codedError } from '../errors';

/** A value that cannot be canonicalized (not JSON). */
export class LedgerEncodingError extends codedError('invalid_ledger_value') {
  override name = 'LedgerEncodingError';
}

/** A ledger query or replay request that is not acceptable (client mistake: 400). */
export class LedgerRequestError extends codedError('invalid_ledger_request') {
  override name = 'LedgerRequestError';
}

/** Digest anchoring asked for (`verify?digests=true`, the digest schedule) where no digest store is configured. */
export class LedgerDigestsUnavailableError extends codedError('ledger_digests_not_configured') {
  override name = 'LedgerDigestsUnavailableError';
}

/** Appends kept losing races with another writer (should not happen with the single FIFO writer). */
export class LedgerConflictError extends codedError('ledger_append_conflict') {
  override name = 'LedgerConflictError';
  override readonly retryable = true;
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
