/**
 * The real runtimes configured for tests: the worker-thread sandbox with a small heap limit (so
 * memory blow-ups are cut quickly) and short load/inspect timeouts; the process runtime in a
 * fresh work dir.
 *
 * The temp dirs it makes are removed after the test file (an afterAll registered when a test file
 * imports this module, directly or through a harness, like tests/infra/synth.ts does; it runs
 * after the file's own afterAll hooks, so after the runtimes using the cache have stopped).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { WorkerSandbox, type WorkerSandboxOptions } from '../../shared/adapters/node/sandbox';
import { ProcessSandbox, type ProcessSandboxOptions } from '../../shared/adapters/node/process-sandbox';

const cacheDirs: string[] = [];
const sandboxes: ProcessSandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
  for (const d of cacheDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A V8 heap limit (MB) in which a worker's isolate cannot even bootstrap: the worker fails to
 * start with ERR_WORKER_OUT_OF_MEMORY (node 20 and 24). Not lower: node 24 aborts the whole
 * process ("GC during deserialization") for limits under ~3 MB.
 */
export const STARVED_HEAP_MB = 4;

export function createTestInspector(opts: Partial<WorkerSandboxOptions> = {}): WorkerSandbox {
  return new WorkerSandbox({ memoryMb: 64, inspectTimeoutMs: 5_000, loadGraceMs: 2_000, ...opts });
}

/**
 * The real process runtime configured for tests: agent processes in a fresh work dir (removed
 * after the test file), a small heap, a short load bound (generous for a busy machine).
 */
export function createTestProcesses(opts: Partial<ProcessSandboxOptions> = {}): ProcessSandbox {
  let workDir = opts.workDir;
  if (workDir === undefined) {
    workDir = mkdtempSync(join(tmpdir(), 'orch-agents-'));
    chmodSync(workDir, 0o711);
    cacheDirs.push(workDir);
  }
  const sb = new ProcessSandbox({ memoryMb: 64, loadTimeoutMs: 60_000, ...opts, workDir });
  sandboxes.push(sb);
  return sb;
}
