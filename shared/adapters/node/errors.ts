/** Errors of the Node adapters (worker-thread sandbox). */
import { BundleRejectedError, codedError } from '../../core/errors';

/** The sandbox itself failed (could not write the bundle cache, could not start a worker). */
export class SandboxError extends codedError('sandbox_error') {
  override name = 'SandboxError';
}

/** The bundle bytes do not hash to the sha256 they were verified under (memory or cache file). */
export class BundleIntegrityError extends codedError('bundle_integrity') {
  override name = 'BundleIntegrityError';
}

/**
 * The verified bundle itself is not an agent: its code throws (or exits) while it is imported,
 * its default export is not an agent object, or it declares an invalid manifest. A property of
 * the bundle, so permanent: the manager rejects it (`bundle.rejected`, reason `bad_manifest`).
 */
export class InvalidManifestError extends BundleRejectedError {
  override name = 'InvalidManifestError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('bad_manifest', message, details);
  }
}

/**
 * The inspection could not be done, for reasons of the host rather than of the bundle: the
 * bundle cache cannot be written, the worker thread fails to start (or runs out of memory: the
 * inspector's heap limit), or loading does not finish in time (a busy host; a bundle whose
 * top-level code never finishes looks the same and is retried too). Not a verdict on the bundle:
 * the manager throws it on, so the event is retried and the bundle is not rejected.
 */
export class InspectionUnavailableError extends codedError('inspection_unavailable') {
  override name = 'InspectionUnavailableError';
  override readonly retryable = true;
}
