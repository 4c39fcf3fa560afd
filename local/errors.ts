/** Errors of the local-mode host (emulators, process wiring). */
export class LocalModeError extends Error {
  override name = 'LocalModeError';
}
export class EmulatorError extends LocalModeError {
  override name = 'EmulatorError';
}
