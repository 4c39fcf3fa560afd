/** Named errors of the CDK app (infra/). */
import { codedError } from '../shared/core/errors';

/** Stack props or `-c` context values that are missing, malformed or contradictory. */
export class InfraConfigError extends codedError('infra_config_invalid') {
  override name = 'InfraConfigError';
}
