/**
 * CDK entry point (cdk.json: `npx tsx infra/app.ts`). `npm run synth` works offline without
 * credentials: the stack is environment-agnostic (account/region resolved at deploy time).
 * Configuration comes from `-c key=value` (see docs/deploy.md); a bad value stops here with a
 * message, before anything is synthesized.
 */
import { OrchestratorError } from '../shared/core/errors';
import { buildApp } from './build';

try {
  const { app } = buildApp();
  app.synth();
} catch (e) {
  if (e instanceof OrchestratorError) {
    process.stderr.write(`agent-orchestrator: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
