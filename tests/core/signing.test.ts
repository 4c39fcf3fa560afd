import { describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import semver from 'semver';
import {
  generateKeyPair,
  nobleVerifier,
  nodeCryptoVerifier,
  parsePublicKey,
  parseTrustedKeys,
  publicKeyOf,
  sha256Hex,
  signBundle,
  signingMessage,
} from '../../shared/core/bundle/signing';
import { parseBundleKey, versionSortKey } from '../../shared/core/bundle/identity';
import { verifyBundle } from '../../shared/core/bundle/verify';
import { BundleRejectedError } from '../../shared/core/errors';

const bytes = new TextEncoder().encode('export default { runCycle() {} }');

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BundleRejectedError) return e.reason;
    throw e;
  }
  throw new Error('expected a BundleRejectedError');
}

describe('signing message and keys', () => {
  it('builds the contract message agent-bundle:v1:<name>:<version>:<sha256>', () => {
    const msg = new TextDecoder().decode(signingMessage('hello', '1.2.3', sha256Hex(bytes)));
    expect(msg).toBe(`agent-bundle:v1:hello:1.2.3:${sha256Hex(bytes)}`);
    expect(sha256Hex(bytes)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('signs with node:crypto and verifies with both node:crypto and @noble/ed25519', () => {
    const kp = generateKeyPair();
    expect(publicKeyOf(kp.privateKey)).toBe(kp.publicKey);
    const sig = Buffer.from(signBundle(kp.privateKey, 'hello', '1.0.0', bytes), 'base64');
    const key = parsePublicKey(kp.publicKey);
    const msg = signingMessage('hello', '1.0.0', sha256Hex(bytes));
    expect(nodeCryptoVerifier(msg, sig, key)).toBe(true);
    expect(nobleVerifier(msg, sig, key)).toBe(true);
    const other = signingMessage('hello', '1.0.1', sha256Hex(bytes));
    expect(nodeCryptoVerifier(other, sig, key)).toBe(false);
    expect(nobleVerifier(other, sig, key)).toBe(false);
  });

  it('parses the comma-separated key list plus the AGENT_WHEEL_PUBKEY alias, deduplicated', () => {
    const a = generateKeyPair().publicKey;
    const b = generateKeyPair().publicKey;
    expect(parseTrustedKeys(` ${a}, ${b} ,`, a).map((k) => k.id)).toEqual([a, b]);
    expect(parseTrustedKeys(undefined, undefined)).toEqual([]);
    expect(() => parseTrustedKeys('not-base64!')).toThrow(/base64/);
    expect(() => parseTrustedKeys(Buffer.alloc(16).toString('base64'))).toThrow(/32 raw bytes/);
  });
});

describe('bundle keys and versions', () => {
  it('parses agents/<name>/<version>.mjs and rejects other shapes with a reason', () => {
    expect(parseBundleKey('agents/hello/1.0.0.mjs')).toEqual({ name: 'hello', version: '1.0.0', key: 'agents/hello/1.0.0.mjs' });
    expect(rejection(() => parseBundleKey('agents/hello.mjs'))).toBe('bad_key');
    expect(rejection(() => parseBundleKey('agents/Hello/1.0.0.mjs'))).toBe('bad_name');
    expect(rejection(() => parseBundleKey('agents/h/1.0.0.mjs'))).toBe('bad_name');
    expect(rejection(() => parseBundleKey(`agents/${'a'.repeat(64)}/1.0.0.mjs`))).toBe('bad_name');
    expect(rejection(() => parseBundleKey('agents/hello/1.0.mjs'))).toBe('bad_version');
  });

  it('versionSortKey orders exactly like semver precedence', () => {
    const ident = fc.oneof(fc.nat({ max: 30 }).map(String), fc.constantFrom('alpha', 'beta', 'rc', 'a', 'b1'));
    const version = fc
      .tuple(fc.nat({ max: 20 }), fc.nat({ max: 20 }), fc.nat({ max: 20 }), fc.option(fc.array(ident, { minLength: 1, maxLength: 3 })))
      .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre ? '-' + pre.join('.') : ''}`)
      .filter((v) => semver.valid(v) === v);
    fc.assert(
      fc.property(version, version, (x, y) => {
        const bySemver = Math.sign(semver.compare(x, y));
        const byKey = Math.sign(versionSortKey(x) < versionSortKey(y) ? -1 : versionSortKey(x) > versionSortKey(y) ? 1 : 0);
        expect(byKey).toBe(bySemver);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('verifyBundle', () => {
  const kp = generateKeyPair();
  const trusted = parseTrustedKeys(kp.publicKey);
  const key = 'agents/hello/1.0.0.mjs';
  const sig = signBundle(kp.privateKey, 'hello', '1.0.0', bytes);
  const base = { key, bytes, signature: sig, trustedKeys: trusted, maxBytes: 1024 };

  it('accepts a correctly signed bundle and names the key that verified it', () => {
    const v = verifyBundle(base);
    expect(v).toMatchObject({ name: 'hello', version: '1.0.0', signer: kp.publicKey, size: bytes.length, sha256: sha256Hex(bytes) });
  });

  it('rejects tampered bytes, untrusted keys, missing or malformed signatures, size and rollback', () => {
    const tampered = new Uint8Array(bytes);
    tampered[0] = tampered[0]! ^ 1;
    expect(rejection(() => verifyBundle({ ...base, bytes: tampered }))).toBe('bad_signature');
    const stranger = generateKeyPair();
    const strangerSig = signBundle(stranger.privateKey, 'hello', '1.0.0', bytes);
    expect(rejection(() => verifyBundle({ ...base, signature: strangerSig }))).toBe('bad_signature');
    expect(rejection(() => verifyBundle({ ...base, signature: strangerSig, signer: stranger.publicKey }))).toBe('unknown_key');
    expect(rejection(() => verifyBundle({ ...base, signature: undefined }))).toBe('missing_signature');
    expect(rejection(() => verifyBundle({ ...base, signature: 'abc' }))).toBe('malformed_signature');
    expect(rejection(() => verifyBundle({ ...base, maxBytes: 10 }))).toBe('too_large');
    expect(rejection(() => verifyBundle({ ...base, activeVersion: '1.0.0' }))).toBe('not_newer');
    expect(rejection(() => verifyBundle({ ...base, activeVersion: '2.0.0' }))).toBe('not_newer');
    // a signature for another version does not carry over
    expect(rejection(() => verifyBundle({ ...base, key: 'agents/hello/1.0.1.mjs' }))).toBe('bad_signature');
  });

  it('with no trusted keys loads unverified (signer null)', () => {
    expect(verifyBundle({ ...base, signature: undefined, trustedKeys: [] }).signer).toBeNull();
  });
});
