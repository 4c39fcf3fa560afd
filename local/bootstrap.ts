/**
 * First-start material of local mode, kept in the data dir: a dev signing key (trusted
 * automatically) and an API token. Both are created once and reused on later starts.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { DataDirInUseError } from './errors';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../shared/core/bundle/signing';
import { devKeyDir, tokenFile } from '../shared/definitions/local-data';

export interface DevMaterial {
  /** the secret access key id of the DynamoDB Local namespace (keys/dynamodb-namespace, 0600) */
  dynamoKeyId: string;
  keyFile: string;
  pubFile: string;
  publicKey: string;
  privateKey: string;
  tokenFile: string;
  token: string;
  created: { key: boolean; token: boolean };
}

export function ensureDevMaterial(dataDir: string): DevMaterial {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
  // the secret access key id of local mode's DynamoDB Local namespace (local/emulators.ts)
  const nsFile = join(dir, 'dynamodb-namespace');
  if (!existsSync(nsFile)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(nsFile, `local${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
    chmodSync(nsFile, 0o600);
  }
  return {
    dynamoKeyId: readFileSync(nsFile, 'utf8').trim(),
    keyFile,
    pubFile,
    publicKey: readFileSync(pubFile, 'utf8').trim(),
    privateKey: readFileSync(keyFile, 'utf8').trim(),
    tokenFile: tFile,
    token: readFileSync(tFile, 'utf8').trim(),
    created: { key: createdKey, token: createdToken },
  };
}

/**
 * One local mode per data dir: `<dataDir>/local.lock` holds the pid of the local mode using it.
 * A second start on a data dir in use fails with a clear message; a lock left by a process that
 * is gone (killed with -9) is taken over. Released by `release()` and, whatever the way out, at
 * process exit.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  const lock = join(dataDir, 'local.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new DataDirInUseError(
          `the data dir ${dataDir} is in use by local mode (pid ${pid}); stop that one first, or start with another AGENT_DATA_DIR`,
        );
      rmSync(lock, { force: true });
    }
  }
  const release = () => {
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) rmSync(lock, { force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return { release };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
