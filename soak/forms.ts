/**
 * The two forms of the soak. Periods and concurrency are chosen for a 2-core machine: each run is
 * a fresh worker thread (~20-50 ms of CPU), so the fleet's run rate must stay well below what the
 * machine can do (bench: cycles/s through the runner pool) or the soak measures a backlog.
 *
 * - short (CI): 100 agents, about 2 minutes in all.
 * - full: 500 agents, about 10 minutes in all; its last result is in docs/soak.md.
 */
import type { SoakOptions } from './driver';

/** The short form: what tests/soak runs in CI (100 agents, ~2 minutes). */
export const SHORT_FORM: SoakOptions = {
  agents: 100,
  activeSeconds: 60,
  convergeSeconds: 90,
  healthyCycleSeconds: [20, 39],
  faultyCycleSeconds: [4, 7],
  emulatorFaultEverySeconds: 12,
  duplicateEverySeconds: 4,
};

/** The full form: 500 agents, bounded at about 10 minutes on a 2-core machine. */
export const FULL_FORM: SoakOptions = {
  agents: 500,
  activeSeconds: 360,
  convergeSeconds: 120,
  healthyCycleSeconds: [60, 119],
  faultyCycleSeconds: [8, 15],
  emulatorFaultEverySeconds: 30,
  duplicateEverySeconds: 5,
};
