/**
 * The layout of local mode's data dir, shared by local mode (which writes it) and agentctl (which
 * reads it): `endpoints.json` (where a running local mode listens; removed on a clean stop), the
 * API token, the dev key folder, the ledger digests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export const LocalEndpointsSchema = z.object({
  api: z.string().url(),
  s3: z.string().url(),
  dynamodb: z.string().url(),
  bucket: z.string(),
  pid: z.number().int(),
  /** the DynamoDB Local JVM's pid (it lives and dies with local mode) */
  dynamodbPid: z.number().int().optional(),
});
export type LocalEndpoints = z.infer<typeof LocalEndpointsSchema>;

export const dataDirOf = (env: NodeJS.ProcessEnv): string => resolve(env.AGENT_DATA_DIR ?? './.agent-data');
export const endpointsFile = (dataDir: string): string => join(dataDir, 'endpoints.json');
export const tokenFile = (dataDir: string): string => join(dataDir, 'api-token');
export const devKeyDir = (dataDir: string): string => join(dataDir, 'keys');
/** the ledger digests of local mode, one line each (shared/adapters/node/file-digest-store.ts) */
export const digestsFile = (dataDir: string): string => join(dataDir, 'ledger-digests.jsonl');

export function readLocalEndpoints(dataDir: string): LocalEndpoints | null {
  const f = endpointsFile(dataDir);
  if (!existsSync(f)) return null;
  const r = LocalEndpointsSchema.safeParse(JSON.parse(readFileSync(f, 'utf8')));
  return r.success ? r.data : null;
}
