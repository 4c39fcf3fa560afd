/** Errors of the Node adapters (worker-thread sandbox). */
import { OrchestratorError } from '../../core/errors';

/** The sandbox itself failed (could not write the bundle cache, could not start a worker). */
export class SandboxError extends OrchestratorError {
  override name = 'SandboxError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('sandbox_error', message, details);
  }
}

/** The bundle bytes do not hash to the sha256 they were verified under (memory or cache file). */
export class BundleIntegrityError extends OrchestratorError {
  override name = 'BundleIntegrityError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('bundle_integrity', message, details);
  }
}

/** The verified bundle's default export is not an agent, or declares an invalid manifest. */
export class InvalidManifestError extends OrchestratorError {
  override name = 'InvalidManifestError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_manifest', message, details);
  }
}
