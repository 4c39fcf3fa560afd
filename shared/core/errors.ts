/**
 * Named errors of the domain core. Every error carries a stable machine-readable `code`; the API
 * maps them to HTTP statuses (see functions/api), the manager maps bundle errors to ledger events.
 *
 * Retry semantics travel with the error (as in inngest-js): `retryable` says whether the same
 * work may succeed later (a dependency down or busy, a lease still held), `retryAt` when a retry
 * makes sense at the earliest. Decisions and bad input are not retryable. Errors that are not
 * ours (the SDK's, the network's) are retryable: see isRetryable. The cause is kept (`cause`).
 */
export interface OrchestratorErrorOptions {
  cause?: unknown;
  /** epoch ms before which a retry is pointless (e.g. a lease's deadline) */
  retryAt?: number;
}

export class OrchestratorError extends Error {
  override name = 'OrchestratorError';
  /** whether the same work may succeed if tried again later; subclasses that are say so */
  readonly retryable: boolean = false;
  readonly retryAt?: number;
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    opts: OrchestratorErrorOptions = {},
  ) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    if (opts.retryAt !== undefined) this.retryAt = opts.retryAt;
  }
}

/**
 * The base of a named error whose code is fixed by its class:
 * `export class StoreError extends codedError('store_error') { override name = 'StoreError'; }`;
 * constructed with (message, details?, options?).
 */
export function codedError(code: string) {
  return class extends OrchestratorError {
    constructor(message: string, details?: Record<string, unknown>, opts?: OrchestratorErrorOptions) {
      super(code, message, details, opts);
    }
  };
}

/**
 * Whether trying the same work again later may succeed: our errors say so themselves; any other
 * error (an AWS SDK or network error, a store that did not answer) is taken as transient.
 */
export function isRetryable(e: unknown): boolean {
  return e instanceof OrchestratorError ? e.retryable : true;
}

/** When a retry makes sense at the earliest (epoch ms), if the error knows. */
export function retryAtOf(e: unknown): number | undefined {
  return e instanceof OrchestratorError ? e.retryAt : undefined;
}

/** Bad configuration (env) detected at start-up. */
export class ConfigError extends codedError('config_invalid') {
  override name = 'ConfigError';
}

/** Input that failed validation at a boundary (API body, envelope, manifest). */
export class ValidationError extends codedError('validation_failed') {
  override name = 'ValidationError';
}

export class NotFoundError extends OrchestratorError {
  override name = 'NotFoundError';
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}

/** A conditional write lost a race or a state transition is not allowed from the current state. */
export class ConflictError extends codedError('conflict') {
  override name = 'ConflictError';
}

export type BundleRejectReason =
  | 'bad_key'
  | 'bad_name'
  | 'bad_version'
  | 'too_large'
  | 'missing_signature'
  | 'malformed_signature'
  | 'unknown_key'
  | 'bad_signature'
  | 'not_newer'
  | 'bad_manifest';

/** A bundle that must not be loaded; `reason` is written to the `bundle.rejected` ledger event. */
export class BundleRejectedError extends OrchestratorError {
  override name = 'BundleRejectedError';
  constructor(
    readonly reason: BundleRejectReason,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(`bundle_${reason}`, message, details);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
