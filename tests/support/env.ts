/**
 * Test environment helpers: real DynamoDB Local (shared, started by global-setup) with unique
 * tables per call, and a real s3rver per call in a temp directory.
 */
import { inject } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClients, type AwsClients } from '../../shared/adapters/aws/clients';
import { ensureTables } from '../../shared/adapters/aws/tables';
import { TABLES, type TableDef } from '../../shared/definitions/tables';
import { startS3Local, type S3Local } from '../../local/emulators';

export function ddbEndpoint(): string {
  return inject('ddbEndpoint');
}

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export interface TestTables {
  names: Record<TableDef['id'], string>;
  clients: AwsClients;
}

/** Creates every table of shared/definitions with a unique suffix in the shared DynamoDB Local. */
export async function createTestTables(s3Endpoint?: string): Promise<TestTables> {
  const clients = createClients({
    region: 'us-east-1',
    endpoints: { dynamodb: ddbEndpoint(), ...(s3Endpoint ? { s3: s3Endpoint } : {}) },
    localCredentials: true,
  });
  const sfx = uniqueSuffix();
  const names = Object.fromEntries(TABLES.map((t) => [t.id, `${t.localName}-${sfx}`])) as Record<TableDef['id'], string>;
  await ensureTables(clients.ddbRaw, TABLES, names);
  return { names, clients };
}

export function tempDir(prefix = 'orch-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startTestS3(bucket = 'hot'): Promise<S3Local & { bucket: string; dir: { path: string; cleanup(): void } }> {
  const dir = tempDir('orch-s3-');
  const s3 = await startS3Local({ directory: dir.path, buckets: [bucket] });
  return {
    ...s3,
    bucket,
    dir,
    async stop() {
      await s3.stop();
      dir.cleanup();
    },
  };
}
