/**
 * One DynamoDB Local (in memory) for the whole test run; each test file creates its own tables
 * with unique names (see tests/support/env.ts), so files can run in parallel without sharing state.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoLocal, type DynamoLocal } from '../../local/emulators';

let ddb: DynamoLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  ddb = await startDynamoLocal();
  project.provide('ddbEndpoint', ddb.endpoint);
}

export async function teardown(): Promise<void> {
  await ddb?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    ddbEndpoint: string;
  }
}
