/**
 * The protobuf schema's checks (scripts/proto.mjs, run by `npm run lint`) catch what they are
 * for: `buf breaking` against the committed baseline image fails for a removed field and a
 * renamed method, and passes for an added field; and the route table's RPC routes are exactly
 * the schema's unary methods (what API Gateway forwards), its streaming methods none of them.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expandedRoutes, RPC_SERVICES } from '../../shared/definitions/api';
import { tempDir } from '../support/env';

const BUF = join(process.cwd(), 'node_modules', '.bin', 'buf');
const BASELINE = join(process.cwd(), 'proto', 'baseline.binpb');

async function breaking(edit: (agents: string) => string): Promise<{ ok: boolean; out: string }> {
  const dir = tempDir('orch-proto-');
  try {
    cpSync(join(process.cwd(), 'proto'), dir.path, { recursive: true });
    const file = join(dir.path, 'agentorchestrator', 'v1', 'agents.proto');
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    try {
      await promisify(execFile)(BUF, ['breaking', dir.path, '--against', BASELINE], { timeout: 120_000 });
      return { ok: true, out: '' };
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string };
      return { ok: false, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
    }
  } finally {
    dir.cleanup();
  }
}

describe('buf breaking against the released schema (proto/baseline.binpb)', () => {
  it('passes for the schema as committed and for an added field', async () => {
    expect((await breaking((s) => s)).ok).toBe(true);
    expect(
      (await breaking((s) => s.replace('  optional string last_error = 9;\n', '  optional string last_error = 9;\n  string note = 10;\n')))
        .ok,
    ).toBe(true);
  });

  it('fails for a removed field and for a renamed method, naming them', async () => {
    const removed = await breaking((s) => s.replace('  optional string last_error = 9;\n', ''));
    expect(removed.ok).toBe(false);
    expect(removed.out).toMatch(/last_error/);
    const renamed = await breaking((s) => s.replace('rpc PauseAgent(', 'rpc SuspendAgent('));
    expect(renamed.ok).toBe(false);
    expect(renamed.out).toMatch(/PauseAgent/);
  });
});

describe('the route table and the schema', () => {
  it('has one API Gateway route per unary method of every service, and none for the streams', () => {
    const rpc = expandedRoutes()
      .filter((r) => r.kind === 'rpc')
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const unary = RPC_SERVICES.flatMap((s) =>
      s.methods.filter((m) => m.methodKind === 'unary').map((m) => `POST /${s.typeName}/${m.name}`),
    ).sort();
    expect(rpc).toEqual(unary);
    const streams = RPC_SERVICES.flatMap((s) => s.methods.filter((m) => m.methodKind !== 'unary').map((m) => `${s.name}.${m.name}`));
    expect(streams.sort()).toEqual(['BusService.Subscribe', 'MetricsService.StreamMetrics']);
  });
});
