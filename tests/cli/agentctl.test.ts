/**
 * agentctl bundle commands as a user runs them (a real `node bin/agentctl.mjs` process): files,
 * modes, output, and the contract's exit codes (0 ok, 1 failed operation, 2 usage error).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCryptoVerifier, parsePublicKey, sha256Hex, signingMessage } from '../../shared/core/bundle/signing';
import { tempDir } from '../support/env';

const dir = tempDir('orch-cli-');
afterAll(() => dir.cleanup());

function agentctl(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/agentctl.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, AGENT_DATA_DIR: join(dir.path, 'no-local') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh key pair made by `agentctl keygen` in a directory of its own (each test makes what it uses). */
function freshKeys(): string {
  const keys = join(dir.path, `keys-${randomBytes(4).toString('hex')}`);
  const r = agentctl('keygen', '--out', keys);
  expect(r.code, r.stderr).toBe(0);
  return keys;
}

describe('agentctl keygen | sign | verify', () => {
  const bundle = join(dir.path, 'agent.mjs');
  writeFileSync(bundle, 'export default { async runCycle() {} };\n');

  it('keygen writes signing.key (0600) and signing.pub (base64 of 32 raw bytes, one line)', () => {
    const keys = join(dir.path, 'keygen-test');
    const r = agentctl('keygen', '--out', keys);
    expect(r.code).toBe(0);
    expect(statSync(join(keys, 'signing.key')).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(keys, 'signing.pub'), 'utf8');
    expect(pub).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(pub.trim(), 'base64')).toHaveLength(32);
    // a second keygen does not overwrite a key silently
    expect(agentctl('keygen', '--out', keys).code).toBe(1);
  });

  it('sign prints a base64 signature over the contract message that verify accepts', () => {
    const keys = freshKeys();
    const r = agentctl('sign', bundle, '--name', 'my-agent', '--version', '1.2.3', '--key', join(keys, 'signing.key'));
    expect(r.code).toBe(0);
    const sig = r.stdout.trim();
    expect(Buffer.from(sig, 'base64')).toHaveLength(64);
    const pub = parsePublicKey(readFileSync(join(keys, 'signing.pub'), 'utf8'));
    const msg = signingMessage('my-agent', '1.2.3', sha256Hex(readFileSync(bundle)));
    expect(nodeCryptoVerifier(msg, Buffer.from(sig, 'base64'), pub)).toBe(true);
    const ok = agentctl('verify', bundle, '--name', 'my-agent', '--version', '1.2.3', '--sig', sig, '--pubkey', join(keys, 'signing.pub'));
    expect(ok).toMatchObject({ code: 0, stdout: 'signature ok\n' });
    // the signature covers name and version: another version does not verify
    const bad = agentctl('verify', bundle, '--name', 'my-agent', '--version', '1.2.4', '--sig', sig, '--pubkey', join(keys, 'signing.pub'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does NOT verify/);
  });

  it('usage errors exit 2 with the usage text; failed operations exit 1 with a message', () => {
    const keys = freshKeys();
    expect(agentctl().code).toBe(2);
    const badName = agentctl('sign', bundle, '--name', 'Bad_Name', '--version', '1.0.0', '--key', join(keys, 'signing.key'));
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/--name must match/);
    expect(agentctl('sign', bundle, '--name', 'ok-name', '--version', 'one', '--key', join(keys, 'signing.key')).code).toBe(2);
    expect(agentctl('sign', bundle, '--name', 'ok-name', '--version', '1.0.0', '--bogus').code).toBe(2);
    const missing = agentctl(
      'sign',
      join(dir.path, 'nope.mjs'),
      '--name',
      'ok-name',
      '--version',
      '1.0.0',
      '--key',
      join(keys, 'signing.key'),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
    // publish without a running local mode and without --bucket: a clear failure, not a crash
    const pub = agentctl('publish', bundle, '--name', 'ok-name', '--version', '1.0.0', '--key', join(keys, 'signing.key'));
    expect(pub.code).toBe(1);
    expect(pub.stderr).toMatch(/local mode is not running/);
  });
});
