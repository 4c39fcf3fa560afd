/**
 * `npm start`: local mode. Starts the whole orchestrator on this machine (see local/host.ts),
 * publishes the example agents on the first start, prints where everything is, and runs until
 * SIGINT/SIGTERM, which shut it down cleanly (exit code 0).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { createLogger } from '../shared/core/logger';
import { errorMessage } from '../shared/core/errors';
import { LocalOrchestrator } from './host';

const LocalEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  AGENT_DATA_DIR: z.string().min(1).default('./.agent-data'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

async function main(): Promise<number> {
  // The SDK warns once per process that its 2027 releases need node 22; local mode pins its SDK
  // version in package-lock.json, so on node 20 the warning is noise here (README: requirements).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = LocalEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`invalid environment: ${z.prettifyError(parsed.error)}\n`);
    return 2;
  }
  const env = parsed.data;
  const dataDir = resolve(env.AGENT_DATA_DIR);
  const log = createLogger({ service: 'local', level: env.LOG_LEVEL });
  const say = (s: string) => process.stdout.write(s + '\n');

  say(`Starting local mode (data in ${dataDir}) …`);
  let host: LocalOrchestrator;
  try {
    host = await LocalOrchestrator.start({ dataDir, port: env.PORT, logger: log });
  } catch (e) {
    process.stderr.write(`local mode failed to start: ${errorMessage(e)}\n`);
    return 1;
  }
  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string) => {
    if (stopping) return;
    say(`\n${signal}: shutting down …`);
    stopping = host.stop().then(
      () => {
        say('Stopped cleanly.');
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${errorMessage(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const published = await host.publishExamples();
  host.writeEndpoints();
  const url = host.apiUrl.replace(/\/$/, '');
  say('');
  say('Orchestrator running (local mode).');
  say(`  API:        ${url}/   (e.g. curl -H "Authorization: Bearer $(cat ${host.dev.tokenFile})" ${url}/agents)`);
  say(`  Dashboard:  ${url}/`);
  say(`  API token:  ${host.dev.tokenFile}`);
  say(`  Dev key:    ${host.dev.keyFile} (trusted; sign with: npx agentctl publish FILE --name N --version V --key ${host.dev.keyFile})`);
  say(`  Data:       ${dataDir}`);
  if (published.length) say(`  Published example agents: ${published.join(', ')}`);
  say('Press Ctrl-C to stop.');
  return new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`local mode crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
