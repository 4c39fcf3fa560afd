/**
 * The real worker-thread sandbox configured for tests: bundle cache in a fresh temp dir, a small
 * heap limit (so memory blow-ups are cut quickly) and short load/inspect timeouts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerSandbox, type WorkerSandboxOptions } from '../../shared/adapters/node/sandbox';

export function createTestInspector(opts: Partial<WorkerSandboxOptions> = {}): WorkerSandbox {
  return new WorkerSandbox({
    cacheDir: opts.cacheDir ?? mkdtempSync(join(tmpdir(), 'orch-bundles-')),
    memoryMb: 64,
    inspectTimeoutMs: 5_000,
    loadGraceMs: 2_000,
    ...opts,
  });
}
