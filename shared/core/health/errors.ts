/** Errors of the health monitor. */
import { ValidationError } from '../errors';

/** An `agent.failed` event whose payload is not what the runner writes. */
export class InvalidFailureEventError extends ValidationError {
  override name = 'InvalidFailureEventError';
  constructor(message: string) {
    super(`invalid agent.failed event: ${message}`);
  }
}
