/** Errors of the local-mode host (emulators, process wiring). */
export class LocalModeError extends Error {
  override name = 'LocalModeError';
}
export class EmulatorError extends LocalModeError {
  override name = 'EmulatorError';
}

/** Another local mode is running on the same data dir. */
export class DataDirInUseError extends LocalModeError {
  override name = 'DataDirInUseError';
}
