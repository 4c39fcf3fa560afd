/** Errors of the agent manager. Bundle rejections use BundleRejectedError from core/errors. */
import { OrchestratorError } from '../errors';

export class ManagerError extends OrchestratorError {
  override name = 'ManagerError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('manager_error', message, details);
  }
}
