import { beforeAll, describe, expect, it } from 'vitest';
import semver from 'semver';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { versionSortKey } from '../../shared/core/bundle/identity';
import { ConflictError, NotFoundError } from '../../shared/core/errors';
import type { NewRegistration } from '../../shared/core/registry';
import { createTestTables } from '../support/env';

let registry: DynamoRegistry;

beforeAll(async () => {
  const t = await createTestTables();
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
});

function reg(name: string, version: string, cycleSeconds = 60): NewRegistration {
  const sha = version.replace(/[^0-9]/g, '').padEnd(64, 'a').slice(0, 64);
  return {
    name,
    version,
    versionKey: versionSortKey(version),
    bundleKey: `agents/${name}/${version}.mjs`,
    sha256: sha,
    size: 100 + version.length,
    signer: null,
    manifest: { cycleSeconds, timeoutSeconds: 5, subscriptions: [`t.${version}`], hasOnEnvelope: false },
    at: new Date().toISOString(),
  };
}

describe('DynamoRegistry (DynamoDB Local)', () => {
  it('registers, refuses older or equal versions, and keeps status across upgrades', async () => {
    expect(await registry.register(reg('alpha', '1.0.0'))).toEqual({ outcome: 'registered', previousVersion: null });
    expect(await registry.register(reg('alpha', '1.0.0'))).toEqual({ outcome: 'not_newer', activeVersion: '1.0.0' });
    expect(await registry.register(reg('alpha', '0.9.0'))).toEqual({ outcome: 'not_newer', activeVersion: '1.0.0' });
    await registry.setStatus('alpha', 'paused');
    expect(await registry.register(reg('alpha', '1.0.1'))).toEqual({ outcome: 'registered', previousVersion: '1.0.0' });
    const rec = await registry.get('alpha');
    expect(rec).toMatchObject({ version: '1.0.1', status: 'paused', bundleKey: 'agents/alpha/1.0.1.mjs', restarts: 0 });
  });

  it('two concurrent registrations of different versions leave the newest, never a mix', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const versions = ['1.0.0', '1.2.0', '1.10.0', '2.0.0-rc.1', '2.0.0', '1.9.9'].sort(() => Math.random() - 0.5);
      const results = await Promise.all(versions.map((v) => registry.register(reg(name, v, versions.indexOf(v) + 1))));
      expect(results.some((r) => r.outcome === 'registered')).toBe(true);
      const rec = await registry.get(name);
      const newest = [...versions].sort(semver.rcompare)[0]!;
      const expected = reg(name, newest, versions.indexOf(newest) + 1);
      // every bundle field comes from the same (newest) registration
      expect(rec).toMatchObject({
        version: newest,
        versionKey: expected.versionKey,
        bundleKey: expected.bundleKey,
        sha256: expected.sha256,
        size: expected.size,
        cycleSeconds: expected.manifest.cycleSeconds,
        subscriptions: expected.manifest.subscriptions,
      });
    }
  });

  it('setStatus enforces allowed source states and reports unknown agents', async () => {
    await registry.register(reg('beta', '1.0.0'));
    await expect(registry.setStatus('beta', 'active', { from: ['paused'] })).rejects.toBeInstanceOf(ConflictError);
    await expect(registry.setStatus('nobody', 'paused')).rejects.toBeInstanceOf(NotFoundError);
    expect((await registry.setStatus('beta', 'paused', { from: ['active'] })).status).toBe('paused');
  });

  it('deregisters only the active version', async () => {
    await registry.register(reg('gamma', '1.0.0'));
    expect(await registry.deregister('gamma', '0.1.0')).toBe(false);
    expect(await registry.get('gamma')).not.toBeNull();
    expect(await registry.deregister('gamma', '1.0.0')).toBe(true);
    expect(await registry.get('gamma')).toBeNull();
    expect((await registry.list()).map((r) => r.name)).not.toContain('gamma');
  });
});
