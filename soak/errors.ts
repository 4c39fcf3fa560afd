/** Named errors of the soak program (extend OrchestratorError; stable codes). */
import { codedError } from '../shared/core/errors';

/** Invalid soak options (CLI flags or env). */
export class SoakConfigError extends codedError('soak_config_invalid') {
  override name = 'SoakConfigError';
}

/** The orchestrator child process did not start, answered a command with an error, or broke the IPC protocol. */
export class SoakOrchestratorError extends codedError('soak_orchestrator_failed') {
  override name = 'SoakOrchestratorError';
}

/** A phase of the soak did not complete within its time bound (registration, convergence, drain). */
export class SoakTimeoutError extends codedError('soak_timeout') {
  override name = 'SoakTimeoutError';
}

/** The soak's own HTTP calls to the orchestrator's API failed (status, body). */
export class SoakApiError extends codedError('soak_api_failed') {
  override name = 'SoakApiError';
}
