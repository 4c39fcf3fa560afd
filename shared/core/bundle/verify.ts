/**
 * Pure verification of a bundle against the contract, before any of its code is imported.
 * Order of checks: key shape → size → signature → rollback, so that the cheapest, most
 * specific reason is reported first.
 */
import { BundleRejectedError } from '../errors';
import { isNewer, parseBundleKey, type BundleId } from './identity';
import { nodeCryptoVerifier, sha256Hex, signingMessage, type TrustedKey, type Verifier } from './signing';

export interface VerifyInput {
  key: string;
  bytes: Uint8Array;
  /** base64 signature from S3 metadata `signature` or the `.sig` sidecar; undefined if none */
  signature?: string | undefined;
  /** optional S3 metadata `signer`: base64 public key the publisher says it signed with */
  signer?: string | undefined;
  trustedKeys: TrustedKey[];
  maxBytes: number;
  activeVersion?: string | null | undefined;
  verifier?: Verifier;
}

export interface VerifiedBundle extends BundleId {
  sha256: string;
  size: number;
  /** key id (base64 public key) that verified the signature; null when running unverified */
  signer: string | null;
}

export function checkSize(key: string, size: number, maxBytes: number): void {
  if (size > maxBytes)
    throw new BundleRejectedError('too_large', `bundle is ${size} bytes, over the limit of ${maxBytes}`, { key, size, maxBytes });
}

export function verifyBundle(input: VerifyInput): VerifiedBundle {
  const id = parseBundleKey(input.key);
  checkSize(input.key, input.bytes.byteLength, input.maxBytes);
  const sha256 = sha256Hex(input.bytes);
  let signer: string | null = null;
  if (input.trustedKeys.length > 0) {
    const sigText = input.signature?.trim();
    if (!sigText)
      throw new BundleRejectedError('missing_signature', 'bundle has no signature and trusted keys are configured', { key: input.key });
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sigText) || Buffer.from(sigText, 'base64').length !== 64)
      throw new BundleRejectedError('malformed_signature', 'signature is not base64 of 64 bytes', { key: input.key });
    const sig = new Uint8Array(Buffer.from(sigText, 'base64'));
    const msg = signingMessage(id.name, id.version, sha256);
    const verify = input.verifier ?? nodeCryptoVerifier;
    const claimed = input.signer?.trim();
    if (claimed && !input.trustedKeys.some((k) => k.id === claimed))
      throw new BundleRejectedError('unknown_key', 'bundle is signed by a key that is not trusted', { key: input.key, signer: claimed });
    const candidates = claimed ? input.trustedKeys.filter((k) => k.id === claimed) : input.trustedKeys;
    const match = candidates.find((k) => verify(msg, sig, k));
    if (!match) {
      throw claimed
        ? new BundleRejectedError(
            'bad_signature',
            'signature does not match the bundle bytes (tampered or signed for another name/version)',
            { key: input.key, signer: claimed, sha256 },
          )
        : new BundleRejectedError('bad_signature', 'signature does not verify with any trusted key (tampered bytes or untrusted key)', {
            key: input.key,
            sha256,
          });
    }
    signer = match.id;
  }
  if (!isNewer(id.version, input.activeVersion))
    throw new BundleRejectedError('not_newer', `version ${id.version} is not newer than the active version ${input.activeVersion}`, {
      key: input.key,
      version: id.version,
      active: input.activeVersion,
    });
  return { ...id, sha256, size: input.bytes.byteLength, signer };
}
