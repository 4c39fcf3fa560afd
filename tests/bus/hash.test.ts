/** Canonical JSON and the ledger's domain-separated hash chain (pure). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../shared/core/ledger/canonical';
import { GENESIS_HASH, LEDGER_HASH_DOMAIN, hashEntry, hashedContent, type LedgerContent } from '../../shared/core/ledger/hash';
import { LedgerEncodingError } from '../../shared/core/ledger/errors';

describe('canonicalJson (RFC 8785 for JSON values)', () => {
  it.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]}}'],
    [{ '10': 1, '9': 2, A: 3, a: 4, é: 5 }, '{"10":1,"9":2,"A":3,"a":4,"é":5}'],
    [{ s: 'line\nquote"\u2028😀' }, '{"s":"line\\nquote\\"\u2028😀"}'],
    [{ n: [1e21, 1e-7, -0, 0.1, 100, 1.5e300] }, '{"n":[1e+21,1e-7,0,0.1,100,1.5e+300]}'],
    [{ keep: false, drop: undefined }, '{"keep":false}'],
    [[], '[]'],
    ['x', '"x"'],
  ])('%j → %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('is independent of key insertion order', () => {
    expect(canonicalJson({ x: 1, y: { b: 2, a: 1 } })).toBe(canonicalJson({ y: { a: 1, b: 2 }, x: 1 }));
  });

  it('refuses values JSON cannot carry', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [{ n: NaN }, { n: Infinity }, [undefined], { f: () => 1 }, { b: 1n }, cyclic]) {
      expect(() => canonicalJson(bad)).toThrow(LedgerEncodingError);
    }
    // a repeated (not cyclic) reference is fine
    const shared = { a: 1 };
    expect(canonicalJson({ x: shared, y: shared })).toBe('{"x":{"a":1},"y":{"a":1}}');
  });
});

describe('hashEntry', () => {
  const content: LedgerContent = { seq: 1, id: 'e1', ts: '2026-01-01T00:00:00.000Z', topic: 't', sender: 'a', payload: { x: 1 } };

  it('is SHA-256 over the domain, the previous hash and the canonical content (documented formula)', () => {
    const expected = createHash('sha256')
      .update(`agent-ledger:v1\0${GENESIS_HASH}\0${canonicalJson(hashedContent(content))}`, 'utf8')
      .digest('hex');
    expect(hashEntry(content, GENESIS_HASH)).toBe(expected);
    expect(LEDGER_HASH_DOMAIN).toBe('agent-ledger:v1\0');
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
    // domain separation: not the plain hash of the same bytes
    const plain = createHash('sha256')
      .update(`${GENESIS_HASH}\0${canonicalJson(hashedContent(content))}`)
      .digest('hex');
    expect(hashEntry(content, GENESIS_HASH)).not.toBe(plain);
  });

  it('changes with every field, with absence vs presence, and with the previous hash', () => {
    const base = hashEntry(content, GENESIS_HASH);
    const variants: LedgerContent[] = [
      { ...content, seq: 2 },
      { ...content, id: 'e2' },
      { ...content, ts: '2026-01-01T00:00:00.001Z' },
      { ...content, topic: 'u' },
      { ...content, sender: 'b' },
      { ...content, recipient: 'b' },
      { ...content, payload: { x: 2 } },
      { ...content, payload: { x: 1, y: null } },
      { ...content, replayOf: 1 },
      { ...content, expiresAt: 1 },
      { ...content, prevExpiresAt: 1 },
    ];
    const hashes = variants.map((v) => hashEntry(v, GENESIS_HASH));
    expect(new Set([base, ...hashes]).size).toBe(variants.length + 1);
    expect(hashEntry(content, 'f'.repeat(64))).not.toBe(base);
    // payload key order does not matter
    expect(hashEntry({ ...content, payload: { b: 1, a: 2 } }, GENESIS_HASH)).toBe(
      hashEntry({ ...content, payload: { a: 2, b: 1 } }, GENESIS_HASH),
    );
  });
});
