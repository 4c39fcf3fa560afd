/**
 * `agentctl new NAME [--dir DIR]`: writes a starter agent project in TypeScript: the agent
 * (src/agent.ts, typed with defineAgent), a test that runs it in agentctl's real runtime
 * (`agentctl run --json`), package.json scripts (build, start, test, typecheck), a tsconfig and a
 * README. It depends on this checkout (`file:`), which brings the types and the agentctl bin.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AGENT_NAME_RE, isReservedName } from '../shared/core/bundle/identity';
import { OperationError, UsageError } from './errors';
import type { Io } from './agentctl';

/** This checkout: the generated project's `agent-orchestrator` dependency. */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

export function starterFiles(name: string, repo: string = REPO_ROOT): Record<string, string> {
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      build: `agentctl build src/agent.ts --out dist/${name}.mjs`,
      start: 'agentctl run src/agent.ts --cycles 3',
      test: 'node --test test/agent.test.ts',
      typecheck: 'tsc --noEmit',
    },
    devDependencies: { 'agent-orchestrator': `file:${repo}`, '@types/node': '^24.0.0', typescript: '^5.9.0' },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      lib: ['ES2023'],
      module: 'ESNext',
      moduleResolution: 'Bundler',
      strict: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      types: ['node'],
    },
    include: ['src', 'test'],
  };
  return {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    '.gitignore': 'node_modules/\ndist/\n',
    'src/agent.ts': `import { defineAgent } from 'agent-orchestrator/agent';

/**
 * ${name}: every cycle it counts its runs in persisted state and publishes a \`${name}.tick\`
 * envelope; envelopes on the topic \`${name}.ping\` reach onEnvelope, which keeps the last one.
 */
export default defineAgent({
  cycleSeconds: 60,
  timeoutSeconds: 10,
  subscriptions: ['${name}.ping'],

  async runCycle(ctx) {
    const count = (ctx.state.get<number>('count') ?? 0) + 1;
    ctx.state.set('count', count);
    ctx.log.info('cycle', { count });
    await ctx.publish('${name}.tick', { count });
  },

  async onEnvelope(envelope, ctx) {
    ctx.log.info('ping received', { from: envelope.sender });
    ctx.state.set('lastPing', envelope.payload);
  },
});
`,
    'test/agent.test.ts': `// Runs the agent as the orchestrator would (an isolated agent process, real ctx, real limits)
// through \`agentctl run --json\`, one JSON event per line, and checks what it did.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const agentctl = join(dirname(fileURLToPath(import.meta.resolve('agent-orchestrator/package.json'))), 'bin/agentctl.mjs');

interface RunEvent {
  type: string;
  [field: string]: unknown;
}

function run(...args: string[]): { code: number | null; events: RunEvent[]; stderr: string } {
  const r = spawnSync(process.execPath, [agentctl, 'run', 'src/agent.ts', '--json', ...args], { encoding: 'utf8' });
  const events = r.stdout
    .split('\\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);
  return { code: r.status, events, stderr: r.stderr };
}

test('each cycle counts in state and publishes a tick', () => {
  const r = run('--cycles', '2');
  assert.equal(r.code, 0, r.stderr);
  const ticks = r.events.filter((e) => e.type === 'publish').map((e) => [e.topic, e.payload]);
  assert.deepEqual(ticks, [
    ['${name}.tick', { count: 1 }],
    ['${name}.tick', { count: 2 }],
  ]);
  assert.deepEqual(r.events.at(-1), { type: 'end', ok: true, runs: 2, state: { count: 2 } });
});

test('a ping reaches onEnvelope, which keeps its payload', () => {
  const r = run('--state', '{"count":41}', '--envelope', JSON.stringify({ topic: '${name}.ping', payload: { hello: 'world' } }));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.events.at(-1), { type: 'end', ok: true, runs: 1, state: { count: 41, lastPing: { hello: 'world' } } });
});
`,
    'README.md': `# ${name}

An agent for agent-orchestrator, in TypeScript.

\`\`\`sh
npm install          # links agent-orchestrator (types, agentctl) from ${repo}
npm start            # three cycles in the real runtime, here: logs, envelopes, state, outcome
npm test             # the tests in test/ (agentctl run --json)
npm run typecheck
npm run build        # dist/${name}.mjs: one ES module with its npm dependencies
npx agentctl publish dist/${name}.mjs --name ${name} --version 0.1.0 --key KEYFILE
\`\`\`

\`npx agentctl run src/agent.ts --envelope '{"topic":"${name}.ping","payload":{}}'\` delivers one
envelope to onEnvelope; \`--state '{"count":5}'\` starts from that state; \`--json\` prints JSON lines.
`,
  };
}

export async function newAgent(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { dir: { type: 'string' } } });
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new UsageError('new: expected exactly one NAME');
  if (!AGENT_NAME_RE.test(name)) throw new UsageError(`new: NAME must match [a-z0-9][a-z0-9-]{1,62}, got ${JSON.stringify(name)}`);
  if (isReservedName(name)) throw new UsageError(`new: ${name} is reserved (a sender the orchestrator uses itself)`);
  const dir = values.dir ?? name;
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new OperationError(`${dir} exists and is not empty`);
  const files = starterFiles(name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const shown = relative(process.cwd(), dir) || '.';
  io.stdout.write(
    `wrote ${Object.keys(files)
      .map((f) => join(shown, f))
      .join(', ')}\nnext: cd ${shown} && npm install && npm start\n`,
  );
  return 0;
}
