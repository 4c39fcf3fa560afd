/**
 * The real worker-thread sandbox configured for tests: bundle cache in a fresh temp dir, a small
 * heap limit (so memory blow-ups are cut quickly) and short load/inspect timeouts.
 *
 * The temp dirs it makes are removed after the test file (an afterAll registered when a test file
 * imports this module, directly or through a harness, like tests/infra/synth.ts does; it runs
 * after the file's own afterAll hooks, so after the runtimes using the cache have stopped).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { WorkerSandbox, type WorkerSandboxOptions } from '../../shared/adapters/node/sandbox';

const cacheDirs: string[] = [];
afterAll(() => {
  for (const d of cacheDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A V8 heap limit (MB) in which a worker's isolate cannot even bootstrap: the worker fails to
 * start with ERR_WORKER_OUT_OF_MEMORY (node 20 and 24). Not lower: node 24 aborts the whole
 * process ("GC during deserialization") for limits under ~3 MB.
 */
export const STARVED_HEAP_MB = 4;

export function createTestInspector(opts: Partial<WorkerSandboxOptions> = {}): WorkerSandbox {
  let cacheDir = opts.cacheDir;
  if (cacheDir === undefined) {
    cacheDir = mkdtempSync(join(tmpdir(), 'orch-bundles-'));
    cacheDirs.push(cacheDir);
  }
  return new WorkerSandbox({
    memoryMb: 64,
    inspectTimeoutMs: 5_000,
    loadGraceMs: 2_000,
    ...opts,
    cacheDir,
  });
}
