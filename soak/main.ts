/**
 * `npm run soak`: the reliability soak (soak/driver.ts) from the command line.
 *
 *   npm run soak                       full form: 500 agents (see docs/soak.md for its last result)
 *   npm run soak -- --short            short form: 100 agents, about 2 minutes (what CI runs)
 *   npm run soak -- --agents 200 --active 180 --report soak-result.md --keep
 *
 * Prints progress and the checks, writes the Markdown result to --report FILE if given, and exits
 * 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { errorMessage } from '../shared/core/errors';
import { formatResult, runSoak, type SoakOptions } from './driver';
import { FULL_FORM, SHORT_FORM } from './forms';

const num = z.coerce.number();

/** The command line (throws on an unknown or malformed option). */
function parseSoakArgs() {
  return parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      agents: { type: 'string' },
      active: { type: 'string' },
      converge: { type: 'string' },
      concurrency: { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean', default: false },
      report: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
}

async function main(): Promise<number> {
  // as in local/main.ts: the SDK's node-22 notice is noise here (the SDK version is pinned)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let args: ReturnType<typeof parseSoakArgs>;
  try {
    args = parseSoakArgs();
  } catch (e) {
    process.stderr.write(
      `${errorMessage(e)}\nusage: npm run soak -- [--short] [--agents N] [--active SECONDS] [--converge SECONDS] [--concurrency N] [--seed N] [--data-dir DIR] [--keep] [--report FILE]\n`,
    );
    return 2;
  }
  if (args.help) {
    process.stdout.write(
      'usage: npm run soak -- [--short] [--agents N] [--active SECONDS] [--converge SECONDS] [--concurrency N] [--seed N] [--data-dir DIR] [--keep] [--report FILE]\n',
    );
    return 0;
  }
  const opts: SoakOptions = { ...(args.short ? SHORT_FORM : FULL_FORM) };
  try {
    if (args.agents !== undefined) opts.agents = num.parse(args.agents);
    if (args.active !== undefined) opts.activeSeconds = num.parse(args.active);
    if (args.converge !== undefined) opts.convergeSeconds = num.parse(args.converge);
    if (args.concurrency !== undefined) opts.runnerConcurrency = num.parse(args.concurrency);
    if (args.seed !== undefined) opts.seed = num.parse(args.seed);
    if (args['log-level'] !== undefined) opts.logLevel = z.enum(['debug', 'info', 'warn', 'error', 'silent']).parse(args['log-level']);
  } catch (e) {
    process.stderr.write(`invalid option: ${errorMessage(e)}\n`);
    return 2;
  }
  if (args['data-dir']) opts.dataDir = args['data-dir'];
  opts.keepData = args.keep;
  let result: Awaited<ReturnType<typeof runSoak>>;
  try {
    result = await runSoak(opts, { progress: (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`) });
  } catch (e) {
    process.stderr.write(`soak: ${errorMessage(e)}\n`);
    return (e as { code?: string }).code === 'soak_config_invalid' ? 2 : 1;
  }
  const text = formatResult(result);
  process.stdout.write('\n' + text);
  if (args.report) writeFileSync(args.report, text);
  return result.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
