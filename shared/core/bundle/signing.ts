/**
 * The signing scheme of the contract: ED25519 over the UTF-8 bytes of
 * `agent-bundle:v1:<name>:<version>:<sha256 hex of the file>`, signature in base64.
 *
 * Two verifier implementations: node:crypto (OpenSSL) and @noble/ed25519 (pure JS). Both are
 * correct for RFC 8032 signatures; node:crypto is the default because bench/verify measures it
 * several times faster (see bench/results.md). @noble stays available (`AGENT_VERIFIER=noble`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import * as ed from '@noble/ed25519';
import { ValidationError } from '../errors';

export const SIGNING_PREFIX = 'agent-bundle:v1';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function signingMessage(name: string, version: string, sha256: string): Uint8Array {
  return new TextEncoder().encode(`${SIGNING_PREFIX}:${name}:${version}:${sha256}`);
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function decodeRaw32(b64: string, what: string): Buffer {
  const trimmed = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw new ValidationError(`${what} is not base64`);
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== 32) throw new ValidationError(`${what} must be 32 raw bytes, got ${raw.length}`);
  return raw;
}

/** A trusted public key: its base64 form (the key id shown in events) and the raw bytes. */
export interface TrustedKey {
  id: string;
  raw: Uint8Array;
  node: KeyObject;
}

export function parsePublicKey(b64: string): TrustedKey {
  const raw = decodeRaw32(b64, 'public key');
  const node = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  return { id: raw.toString('base64'), raw: new Uint8Array(raw), node };
}

/** Parses `AGENT_BUNDLE_PUBKEYS` (comma-separated) plus the `AGENT_WHEEL_PUBKEY` alias. */
export function parseTrustedKeys(list: string | undefined, alias?: string | undefined): TrustedKey[] {
  const parts = [...(list ?? '').split(','), alias ?? ''].map((s) => s.trim()).filter(Boolean);
  const seen = new Map<string, TrustedKey>();
  for (const p of parts) {
    const k = parsePublicKey(p);
    seen.set(k.id, k);
  }
  return [...seen.values()];
}

export interface KeyPair {
  /** base64 of the 32-byte seed (the contents of signing.key) */
  privateKey: string;
  /** base64 of the raw 32-byte public key (the contents of signing.pub) */
  publicKey: string;
}

export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return { privateKey: seed.toString('base64'), publicKey: pub.toString('base64') };
}

export function publicKeyOf(privateKeyB64: string): string {
  const seed = decodeRaw32(privateKeyB64, 'private key');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length).toString('base64');
}

/** Signs a bundle; returns the base64 signature. */
export function signBundle(privateKeyB64: string, name: string, version: string, bytes: Uint8Array): string {
  const seed = decodeRaw32(privateKeyB64, 'private key');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return nodeSign(null, signingMessage(name, version, sha256Hex(bytes)), key).toString('base64');
}

export type Verifier = (message: Uint8Array, signature: Uint8Array, key: TrustedKey) => boolean;

export const nodeCryptoVerifier: Verifier = (message, signature, key) => {
  try {
    return nodeVerify(null, message, key.node, signature);
  } catch {
    return false;
  }
};

// @noble's synchronous API needs a SHA-512; node:crypto provides it.
ed.hashes.sha512 = (m) => new Uint8Array(createHash('sha512').update(m).digest());

export const nobleVerifier: Verifier = (message, signature, key) => {
  try {
    return ed.verify(signature, message, key.raw);
  } catch {
    return false;
  }
};

export function verifierFromName(name: string | undefined): Verifier {
  return name === 'noble' ? nobleVerifier : nodeCryptoVerifier;
}
