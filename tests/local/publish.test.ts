/**
 * Foundation must-shows in local mode (the whole LocalOrchestrator in-process, with `agentctl`
 * run as a real process against it, as an agent author would):
 * - a bundle published with `agentctl publish` appears in the registry and runs (polled with a
 *   generous bound: tests assert no wall-clock figures, a slower machine only waits longer);
 * - a bundle signed by an untrusted key is rejected with a `bundle.rejected` ledger event naming
 *   the reason, the active version stays, and none of its code runs (it would drop a marker file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalOrchestrator } from '../../local/host';
import { silentLogger } from '../../shared/core/logger';
import { tempDir } from '../support/env';
import { waitFor } from '../support/local-process';

const data = tempDir('orch-publish-');
const work = tempDir('orch-publish-work-');
let host: LocalOrchestrator;

/** agentctl as a separate process; asynchronous, because s3rver runs in this test's process */
function agentctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/agentctl.mjs', ...args],
      { encoding: 'utf8', env: { ...process.env, AGENT_DATA_DIR: data.path } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  host = await LocalOrchestrator.start({ dataDir: data.path, port: 0, logger: silentLogger, env: { LOG_LEVEL: 'silent' } });
  host.writeEndpoints(); // what npm start does: agentctl finds the local hot directory through it
});

afterAll(async () => {
  await host?.stop();
  data.cleanup();
  work.cleanup();
});

describe('local mode: publishing with agentctl', () => {
  it('a signed bundle published with agentctl publish is registered and runs', async () => {
    const file = join(work.path, 'pub.mjs');
    writeFileSync(file, 'export default { cycleSeconds: 1, timeoutSeconds: 2, async runCycle(ctx) { ctx.state.set("ran", true); } };\n');
    const r = await agentctl('publish', file, '--name', 'pub', '--version', '1.0.0', '--key', host.dev.keyFile);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/published s3:\/\/agent-hot-directory\/agents\/pub\/1\.0\.0\.mjs/);
    const rec = await waitFor('pub registered', async () => (await host.registry.get('pub')) ?? undefined, 60_000);
    expect(rec).toMatchObject({ version: '1.0.0', status: 'active', cycleSeconds: 1, signer: host.dev.publicKey });
    const hb = await waitFor(
      'pub ran a cycle',
      async () => ((await host.heartbeats.get('pub'))?.cycles ? await host.heartbeats.get('pub') : undefined),
      60_000,
    );
    expect(hb?.lastOutcome).toBe('ok');
    expect(await host.heartbeats.getState('pub')).toEqual({ ran: true });
  });

  it('a bundle signed by an untrusted key is rejected with a ledger event; the active version stays and its code never runs', async () => {
    const keys = join(work.path, 'stranger');
    expect((await agentctl('keygen', '--out', keys)).code).toBe(0);
    const marker = join(work.path, 'marker-untrusted');
    const file = join(work.path, 'evil.mjs');
    writeFileSync(
      file,
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default { async runCycle() {} };\n`,
    );
    expect((await agentctl('publish', file, '--name', 'pub', '--version', '2.0.0', '--key', join(keys, 'signing.key'))).code).toBe(0);
    const rejected = await waitFor(
      'bundle.rejected in the ledger',
      async () => {
        await host.idle();
        const page = await host.ledger.list({ limit: 1000, topic: 'bundle.rejected' });
        return page.entries.find((e) => e.payload.key === 'agents/pub/2.0.0.mjs');
      },
      60_000,
    );
    expect(rejected.payload).toMatchObject({ reason: 'unknown_key' });
    expect(String(rejected.payload.message)).toMatch(/not trusted/);
    expect((await host.registry.get('pub'))?.version).toBe('1.0.0');
    expect(existsSync(marker)).toBe(false);
    expect((await host.ledger.verify()).ok).toBe(true);
  });
});
