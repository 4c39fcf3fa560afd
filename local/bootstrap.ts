/**
 * First-start material of local mode, kept in the data dir: a dev signing key (trusted
 * automatically) and an API token. Both are created once and reused on later starts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../shared/core/bundle/signing';
import { devKeyDir, tokenFile } from '../shared/definitions/local-data';

export interface DevMaterial {
  keyFile: string;
  pubFile: string;
  publicKey: string;
  privateKey: string;
  tokenFile: string;
  token: string;
  created: { key: boolean; token: boolean };
}

export function ensureDevMaterial(dataDir: string): DevMaterial {
  mkdirSync(dataDir, { recursive: true });
  const dir = devKeyDir(dataDir);
  const keyFile = join(dir, 'signing.key');
  const pubFile = join(dir, 'signing.pub');
  let createdKey = false;
  if (!existsSync(keyFile) || !existsSync(pubFile)) {
    mkdirSync(dir, { recursive: true });
    const kp = generateKeyPair();
    writeFileSync(keyFile, kp.privateKey + '\n', { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    writeFileSync(pubFile, kp.publicKey + '\n');
    createdKey = true;
  }
  const tFile = tokenFile(dataDir);
  let createdToken = false;
  if (!existsSync(tFile)) {
    writeFileSync(tFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    chmodSync(tFile, 0o600);
    createdToken = true;
  }
  return {
    keyFile,
    pubFile,
    publicKey: readFileSync(pubFile, 'utf8').trim(),
    privateKey: readFileSync(keyFile, 'utf8').trim(),
    tokenFile: tFile,
    token: readFileSync(tFile, 'utf8').trim(),
    created: { key: createdKey, token: createdToken },
  };
}
