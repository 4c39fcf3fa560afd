/**
 * Errors of the control service. Refused transitions are ConflictError (HTTP 409) and unknown
 * agents NotFoundError (404), both from core/errors, so callers map them by class; this module
 * adds its own, more specific kinds.
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors';

/** `POST /agents/{name}/{action}` with an action that does not exist. */
export class UnknownActionError extends ValidationError {
  override name = 'UnknownActionError';
  constructor(action: string, allowed: readonly string[]) {
    super(`unknown action "${action}"; expected one of ${allowed.join(', ')}`, { action, allowed: [...allowed] });
  }
}

/** An action that is not allowed in the agent's current status (e.g. trigger while quarantined). */
export class ActionNotAllowedError extends ConflictError {
  override name = 'ActionNotAllowedError';
  constructor(name: string, action: string, status: string, hint?: string) {
    super(`agent ${name} is ${status}; cannot ${action} it${hint ? ` (${hint})` : ''}`, { name, action, status });
  }
}

/** `POST /components/{name}/...` for an optional component this deployment does not have (`kafka` without KAFKA_*). */
export class ComponentNotConfiguredError extends NotFoundError {
  override name = 'ComponentNotConfiguredError';
  constructor(component: string, how: string) {
    super(`component ${component}`);
    this.message = `component ${component} is not configured on this deployment (${how})`;
  }
}
