#!/usr/bin/env node
/**
 * The protobuf schema's checks and code generation (docs/api.md, "gRPC and Connect"):
 *
 *   node scripts/proto.mjs gen       buf generate: proto/ → shared/gen/ (protoc-gen-es, committed)
 *   node scripts/proto.mjs check     buf lint; buf breaking against the committed baseline image
 *                                    (proto/baseline.binpb) and, on a branch, against main's
 *                                    proto/; the committed shared/gen/ equals a fresh generation
 *   node scripts/proto.mjs baseline  rewrites proto/baseline.binpb from proto/ (a release of the
 *                                    schema: after it, removing or renumbering what it has breaks)
 *
 * `npm run lint` runs `check`. The buf binary comes from the npm package @bufbuild/buf (its
 * platform package, no install script), protoc-gen-es from @bufbuild/protoc-gen-es: both are
 * devDependencies, so `npm ci` is all a machine needs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const BASELINE = join('proto', 'baseline.binpb');
const GEN_DIR = join('shared', 'gen');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? 'pipe' : 'inherit',
    encoding: 'utf8',
    // protoc-gen-es is found on the PATH by buf
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  if (r.error) throw r.error;
  return r;
}

const buf = (args, opts) => run(join(bin, 'buf'), args, opts);

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function fail(msg) {
  console.error(`proto: ${msg}`);
  process.exitCode = 1;
}

function gen() {
  rmSync(join(root, GEN_DIR), { recursive: true, force: true });
  if (buf(['generate']).status !== 0) fail('buf generate failed');
}

/** Whether this checkout has a branch `main` with a proto/ of its own (and HEAD is not it). */
function mainHasProto() {
  const head = run('git', ['rev-parse', '--verify', '-q', 'HEAD'], { capture: true }).stdout.trim();
  const main = run('git', ['rev-parse', '--verify', '-q', 'refs/heads/main'], { capture: true }).stdout.trim();
  if (!main || main === head) return false;
  return run('git', ['cat-file', '-e', 'refs/heads/main:proto/buf.yaml'], { capture: true }).status === 0;
}

function check() {
  if (buf(['lint', 'proto']).status !== 0) return fail('buf lint found problems (above)');
  if (!existsSync(join(root, BASELINE))) return fail(`${BASELINE} is missing: run node scripts/proto.mjs baseline`);
  if (buf(['breaking', 'proto', '--against', BASELINE]).status !== 0)
    return fail(`breaking change against the released schema ${BASELINE} (above)`);
  if (mainHasProto() && buf(['breaking', 'proto', '--against', '.git#branch=main,subdir=proto']).status !== 0)
    return fail('breaking change against the proto/ of branch main (above)');

  const tmp = mkdtempSync(join(tmpdir(), 'proto-gen-'));
  try {
    if (buf(['generate', '-o', tmp]).status !== 0) return fail('buf generate failed');
    const fresh = join(tmp, GEN_DIR);
    const committed = join(root, GEN_DIR);
    const a = files(fresh);
    const b = files(committed);
    const stale = [...new Set([...a, ...b])].filter(
      (f) => !a.includes(f) || !b.includes(f) || readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
    );
    if (stale.length)
      return fail(
        `${GEN_DIR}/ is not what proto/ generates (${stale.map((f) => relative(root, join(committed, f))).join(', ')}): run npm run proto:gen`,
      );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log('proto: buf lint, buf breaking and the generated code are OK');
}

function baseline() {
  if (buf(['build', 'proto', '-o', BASELINE]).status !== 0) fail('buf build failed');
}

const cmd = process.argv[2];
if (cmd === 'gen') gen();
else if (cmd === 'check') check();
else if (cmd === 'baseline') baseline();
else {
  console.error('usage: node scripts/proto.mjs gen|check|baseline');
  process.exitCode = 2;
}
