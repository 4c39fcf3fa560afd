/** Named errors of the CDK app (infra/). */
import { OrchestratorError } from '../shared/core/errors';

/** Stack props or `-c` context values that are missing, malformed or contradictory. */
export class InfraConfigError extends OrchestratorError {
  override name = 'InfraConfigError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('infra_config_invalid', message, details);
  }
}
