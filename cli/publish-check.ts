/**
 * What `agentctl publish` does around the upload:
 *
 * - before it, `checkBundle`: the file must be one JavaScript ES module (not TypeScript), parse
 *   (V8's own parser, `node --check`: a syntax error is reported with the bundle key, line and
 *   column and the line itself), and load as an agent in the same sandbox the runner uses (the
 *   `process` runtime's inspection, shared/adapters/node/process-sandbox.ts: the manager's
 *   inspection path), whose manifest is validated as at registration. An import of a package the
 *   bundle does not contain is named, with the fix (`agentctl build`).
 * - after it, `waitForOutcome` (local mode, unless `--no-wait`): the ledger's `agent.registered`
 *   or `bundle.rejected` for this key, through the API; a rejection is a failed operation (exit 1)
 *   with its reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { ProcessSandbox } from '../shared/adapters/node/process-sandbox';
import { sha256Hex } from '../shared/core/bundle/signing';
import { errorMessage } from '../shared/core/errors';
import type { BundleManifest } from '../shared/core/registry';
import { ORCHESTRATOR_SENDER } from '../shared/core/envelope';
import { OperationError } from './errors';
import { describeError, request, type ApiTarget } from './api-client';

/** The fix for a bundle that is not one self-contained ES module. */
export const BUILD_HINT = 'bundle it and its dependencies into one ES module with `agentctl build FILE`, then publish the output';

/** A check that failed: the message says what and where (the bundle key, line and column). */
export class BundleCheckError extends OperationError {
  override name = 'BundleCheckError';
}

/**
 * V8's parse of the bundle as an ES module: null when it parses, else the error with
 * `KEY:LINE:COL`, the offending line and a caret.
 */
export function syntaxError(bytes: Uint8Array, key: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'agentctl-check-'));
  try {
    const file = join(dir, 'bundle.mjs');
    writeFileSync(file, bytes);
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return null;
    // node prints: FILE:LINE / the line / a caret under the column / (blank) / SyntaxError: message
    const lines = (r.stderr ?? '').split('\n');
    const at = lines.findIndex((l) => l.startsWith(`${file}:`));
    const line = at >= 0 ? Number(lines[at]!.slice(file.length + 1)) : Number.NaN;
    const source = at >= 0 ? (lines[at + 1] ?? '') : '';
    const caret = at >= 0 ? (lines[at + 2] ?? '') : '';
    const col = caret.indexOf('^') + 1;
    const msg = lines.find((l) => /^\w*Error: /.test(l)) ?? (r.error ? errorMessage(r.error) : 'the bundle does not parse');
    if (!Number.isInteger(line)) return `${key}: ${msg}`;
    return `${key}:${line}${col > 0 ? `:${col}` : ''}: ${msg}\n  ${source}\n  ${caret}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A package the bundle imports but does not contain, from the loader's message. */
export function missingPackage(message: string): string | null {
  const m =
    /Cannot find (?:package|module) '([^']+)'/.exec(message) ??
    /Failed to resolve module specifier "([^"]+)"/.exec(message) ??
    /Cannot resolve module specifier "([^"]+)"/.exec(message);
  const spec = m?.[1];
  if (!spec || spec.startsWith('node:')) return null;
  // the package's name (a scope keeps its second part)
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

/**
 * The checks before an upload; resolves with the manifest the runner will see, rejects with a
 * BundleCheckError that says what to fix.
 */
export async function checkBundle(file: string, bytes: Uint8Array, key: string): Promise<BundleManifest> {
  const ext = extname(file).toLowerCase();
  if (['.ts', '.mts', '.cts', '.tsx', '.jsx'].includes(ext))
    throw new BundleCheckError(`${file} is ${ext === '.jsx' ? 'JSX' : 'TypeScript'}: a bundle is one JavaScript ES module; ${BUILD_HINT}`);
  const syntax = syntaxError(bytes, key);
  if (syntax) throw new BundleCheckError(`the bundle does not parse: ${syntax}`);
  const workDir = mkdtempSync(join(tmpdir(), 'agentctl-sandbox-'));
  const sandbox = new ProcessSandbox({ workDir, loadTimeoutMs: 60_000 });
  try {
    return await sandbox.inspect({ key, sha256: sha256Hex(bytes), bytes });
  } catch (e) {
    const msg = errorMessage(e);
    const pkg = missingPackage(msg);
    if (pkg) throw new BundleCheckError(`the bundle imports the package '${pkg}', which it does not contain: ${BUILD_HINT}`);
    throw new BundleCheckError(`the bundle does not load as an agent: ${msg}`);
  } finally {
    await sandbox.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

interface LedgerEntryLike {
  seq: number;
  topic: string;
  sender: string;
  payload: Record<string, unknown>;
}

/** The ledger's newest seq. */
export async function ledgerHead(target: ApiTarget): Promise<number> {
  const r = await request(target, 'GET', '/ledger?limit=1');
  if (r.status !== 200) throw new OperationError(`GET /ledger failed: ${describeError(r)}`);
  return (r.json() as { head: number }).head;
}

export type PublishOutcome =
  | { kind: 'registered'; previousVersion: string | null; status: string | null }
  | { kind: 'rejected'; reason: string; message: string };

/**
 * Polls the ledger after `after` until the orchestrator's `agent.registered` for name@version or
 * its `bundle.rejected` for `key`; a timeout is a failed operation that says where to look.
 */
export async function waitForOutcome(
  target: ApiTarget,
  o: { key: string; name: string; version: string; after: number; timeoutMs: number },
): Promise<PublishOutcome> {
  const deadline = Date.now() + o.timeoutMs;
  let cursor = o.after;
  for (;;) {
    const q = new URLSearchParams({ after: String(cursor), limit: '1000' });
    const r = await request(target, 'GET', `/ledger?${q}`);
    if (r.status !== 200) throw new OperationError(`GET /ledger failed: ${describeError(r)}`);
    const page = r.json() as { entries: LedgerEntryLike[]; next: number | null };
    for (const e of page.entries) {
      cursor = Math.max(cursor, e.seq);
      if (e.sender !== ORCHESTRATOR_SENDER) continue;
      const p = e.payload;
      if (e.topic === 'agent.registered' && p.name === o.name && p.version === o.version)
        return {
          kind: 'registered',
          previousVersion: typeof p.previousVersion === 'string' ? p.previousVersion : null,
          status: typeof p.status === 'string' ? p.status : null,
        };
      if (e.topic === 'bundle.rejected' && p.key === o.key)
        return { kind: 'rejected', reason: String(p.reason), message: String(p.message) };
    }
    if (page.next !== null) continue;
    if (Date.now() >= deadline)
      throw new OperationError(
        `uploaded, but neither agent.registered nor bundle.rejected for ${o.key} reached the ledger within ${Math.round(o.timeoutMs / 1000)} s: ` +
          'is the manager component stopped (GET /components)? `agentctl ledger tail` shows what happened; --wait-timeout SECONDS waits longer, --no-wait not at all',
      );
    await new Promise((res) => setTimeout(res, 250));
  }
}
