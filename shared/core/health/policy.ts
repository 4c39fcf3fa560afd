/**
 * The health policy (contract defaults: 3 consecutive failures → restart; more than 3 restarts
 * in 600 s → quarantine; stuck after max(3 periods, period + timeout + grace) without heartbeat),
 * read once from the validated config and shared by the runner, the monitor and the control API.
 */
import type { Config } from '../config';
import { stuckAfterMs } from '../heartbeat';

export interface HealthPolicy {
  /** consecutive failed cycles that trigger a restart (AGENT_ERR_THRESHOLD) */
  errThreshold: number;
  /** restarts allowed inside the window; one more quarantines (AGENT_MAX_RESTARTS) */
  maxRestarts: number;
  restartWindowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  stuckGraceSeconds: number;
}

export type HealthConfig = Pick<
  Config,
  | 'AGENT_ERR_THRESHOLD'
  | 'AGENT_MAX_RESTARTS'
  | 'AGENT_RESTART_WINDOW_SECONDS'
  | 'AGENT_RESTART_BACKOFF_BASE_SECONDS'
  | 'AGENT_RESTART_BACKOFF_MAX_SECONDS'
  | 'AGENT_STUCK_GRACE_SECONDS'
>;

export function healthPolicyFrom(c: HealthConfig): HealthPolicy {
  return {
    errThreshold: c.AGENT_ERR_THRESHOLD,
    maxRestarts: c.AGENT_MAX_RESTARTS,
    restartWindowMs: c.AGENT_RESTART_WINDOW_SECONDS * 1000,
    backoffBaseMs: c.AGENT_RESTART_BACKOFF_BASE_SECONDS * 1000,
    backoffMaxMs: c.AGENT_RESTART_BACKOFF_MAX_SECONDS * 1000,
    stuckGraceSeconds: c.AGENT_STUCK_GRACE_SECONDS,
  };
}

/**
 * Backoff before the n-th restart inside the window (n = 1, 2, ...): base · 2^(n-1), capped.
 */
export function restartBackoffMs(policy: HealthPolicy, n: number): number {
  const exp = Math.min(30, Math.max(0, n - 1));
  return Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** exp);
}

/** The heartbeat deadline after which an agent whose last heartbeat (or first slot) was at `from` is stuck. */
export function stuckDeadline(policy: HealthPolicy, from: number, agent: { cycleSeconds: number; timeoutSeconds: number }): number {
  return from + stuckAfterMs(agent.cycleSeconds, agent.timeoutSeconds, policy.stuckGraceSeconds);
}
