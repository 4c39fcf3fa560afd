/** Errors of the AWS adapters. */
import { OrchestratorError } from '../../core/errors';

export class StoreError extends OrchestratorError {
  override name = 'StoreError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('store_error', message, details);
  }
}
