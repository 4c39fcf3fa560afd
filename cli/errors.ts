/** Errors of agentctl: UsageError exits 2, OperationError exits 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}
export class OperationError extends Error {
  override name = 'OperationError';
}
