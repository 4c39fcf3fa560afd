/**
 * Bundle signature verification: node:crypto vs @noble/ed25519 on the same signatures, measured
 * in one run (ratio), plus the whole verifyBundle path on a 100 KiB bundle.
 */
import {
  generateKeyPair,
  nobleVerifier,
  nodeCryptoVerifier,
  parsePublicKey,
  sha256Hex,
  signBundle,
  signingMessage,
} from '../shared/core/bundle/signing';
import { verifyBundle } from '../shared/core/bundle/verify';
import type { BenchResult } from './types';

function opsPerSecond(fn: () => void, minMs = 1500): number {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  return (n * 1000) / (performance.now() - t0);
}

export async function run(): Promise<BenchResult[]> {
  const kp = generateKeyPair();
  const key = parsePublicKey(kp.publicKey);
  const bytes = new Uint8Array(100 * 1024).fill(7);
  const sigB64 = signBundle(kp.privateKey, 'bench', '1.0.0', bytes);
  const sig = Buffer.from(sigB64, 'base64');
  const msg = signingMessage('bench', '1.0.0', sha256Hex(bytes));
  if (!nodeCryptoVerifier(msg, sig, key) || !nobleVerifier(msg, sig, key)) throw new Error('verifiers disagree');
  const node = opsPerSecond(() => nodeCryptoVerifier(msg, sig, key));
  const noble = opsPerSecond(() => nobleVerifier(msg, sig, key));
  const full = opsPerSecond(() =>
    verifyBundle({ key: 'agents/bench/1.0.0.mjs', bytes, signature: sigB64, trustedKeys: [key], maxBytes: 1 << 20 }),
  );
  return [
    { name: 'ed25519 verify, node:crypto', value: Math.round(node), unit: 'verifies/s' },
    { name: 'ed25519 verify, @noble/ed25519', value: Math.round(noble), unit: 'verifies/s' },
    { name: 'node:crypto / noble speed ratio', value: Number((node / noble).toFixed(1)), unit: 'x', note: 'same run, same signature' },
    { name: 'verifyBundle (100 KiB: sha256 + verify)', value: Math.round(full), unit: 'bundles/s' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
