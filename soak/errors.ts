/** Named errors of the soak program (extend OrchestratorError; stable codes). */
import { OrchestratorError } from '../shared/core/errors';

/** Invalid soak options (CLI flags or env). */
export class SoakConfigError extends OrchestratorError {
  override name = 'SoakConfigError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('soak_config_invalid', message, details);
  }
}

/** The orchestrator child process did not start, answered a command with an error, or broke the IPC protocol. */
export class SoakOrchestratorError extends OrchestratorError {
  override name = 'SoakOrchestratorError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('soak_orchestrator_failed', message, details);
  }
}

/** A phase of the soak did not complete within its time bound (registration, convergence, drain). */
export class SoakTimeoutError extends OrchestratorError {
  override name = 'SoakTimeoutError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('soak_timeout', message, details);
  }
}

/** The soak's own HTTP calls to the orchestrator's API failed (status, body). */
export class SoakApiError extends OrchestratorError {
  override name = 'SoakApiError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('soak_api_failed', message, details);
  }
}
