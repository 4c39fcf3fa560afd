/**
 * The agent author's tools as a user drives them, in real processes: the types
 * (`agent-orchestrator/agent`) from a project outside this repository, `agentctl build`,
 * `agentctl run` (the real process runtime, no server) and `agentctl new`, end to end.
 *
 * A temp project stands in for an author's: `npm install` of a `file:` dependency links the
 * package into node_modules, which is what these projects get (a symlink to this checkout).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../support/env';

const REPO = process.cwd();
const AGENTCTL = join(REPO, 'bin/agentctl.mjs');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const dir = tempDir('orch-authoring-');
afterAll(() => dir.cleanup());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function agentctl(cwd: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [AGENTCTL, ...args], { cwd, encoding: 'utf8', env: { ...process.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type RunEvent = { type: string } & Record<string, unknown>;
const events = (r: Run): RunEvent[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);

function tsc(project: string): Run {
  const r = spawnSync(process.execPath, [TSC, '-p', project], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A project directory outside the repository, with this checkout linked as `npm install` links a `file:` dependency. */
function project(name: string, files: Record<string, string>, opts: { nodeTypes?: boolean } = {}): string {
  const root = join(dir.path, name);
  mkdirSync(join(root, 'node_modules/.bin'), { recursive: true });
  symlinkSync(REPO, join(root, 'node_modules/agent-orchestrator'));
  symlinkSync('../agent-orchestrator/bin/agentctl.mjs', join(root, 'node_modules/.bin/agentctl'));
  if (opts.nodeTypes) {
    mkdirSync(join(root, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules/@types/node'), join(root, 'node_modules/@types/node'));
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2023',
    lib: ['ES2023'],
    module: 'ESNext',
    moduleResolution: 'Bundler',
    strict: true,
    noEmit: true,
    types: [],
  },
  include: ['src'],
});

/** A small CommonJS npm package (requires a Node builtin, as many do) in the project's node_modules. */
const TINY_PACKAGE = {
  'node_modules/tiny-slug/package.json': JSON.stringify({ name: 'tiny-slug', version: '1.0.0', main: 'index.js' }),
  'node_modules/tiny-slug/index.js':
    "const { format } = require('node:util');\nmodule.exports = function slug(s) { return format('%s', s).toLowerCase().replace(/[^a-z0-9]+/g, '-'); };\n",
};

// An agent written against the types, with compile-time checks that the types catch mistakes
// (an unused @ts-expect-error fails the type check).
const TYPED_AGENT = `import slug from 'tiny-slug';
import { defineAgent, type AgentContext, type Envelope } from 'agent-orchestrator/agent';

export default defineAgent({
  cycleSeconds: 5,
  subscriptions: ['titles'],
  async runCycle(ctx) {
    const n = (ctx.state.get<number>('n') ?? 0) + 1;
    ctx.state.set('n', n);
    ctx.log.info('cycle', { n, slug: slug('Hello World ' + n), aborted: ctx.signal.aborted });
    await ctx.publish('slugs', { n }, 'indexer');
  },
  async onEnvelope(envelope, ctx) {
    const title: unknown = envelope.payload.title;
    ctx.log('title', { title, from: envelope.sender });
  },
});

export function typeChecks(ctx: AgentContext, env: Envelope<{ title: string }>): void {
  const t: string = env.payload.title;
  void t;
  // @ts-expect-error a payload is a JSON object, not a string
  void ctx.publish('t', 'text');
  // @ts-expect-error a misspelt field
  defineAgent({ runCycle() {}, cycleSecond: 5 });
  // @ts-expect-error runCycle is required
  defineAgent({ cycleSeconds: 5 });
  // @ts-expect-error state keys are strings
  ctx.state.get(1);
}
`;

describe('types for authors (agent-orchestrator/agent) in a project outside the repository', () => {
  it('type-checks with tsc (no DOM or Node types needed) and bundles into a module that imports nothing', () => {
    const root = project('typed', { 'tsconfig.json': TSCONFIG, 'src/agent.ts': TYPED_AGENT, ...TINY_PACKAGE });
    writeFileSync(join(root, 'src/tiny-slug.d.ts'), "declare module 'tiny-slug' { export default function slug(s: string): string; }\n");
    const checked = tsc(root);
    expect(checked.code, checked.stdout).toBe(0);

    // a real type error is reported with its place
    writeFileSync(
      join(root, 'src/wrong.ts'),
      "import { defineAgent } from 'agent-orchestrator/agent';\nexport default defineAgent({ runCycle(ctx) { ctx.state.set(); } });\n",
    );
    const wrong = tsc(root);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/src\/wrong\.ts\(2,\d+\): error TS2554/);

    const built = agentctl(root, 'build', 'src/agent.ts', '--out', 'dist/typed.mjs');
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^built dist\/typed\.mjs \(\d+ bytes, sha256 [0-9a-f]{64}\)\n$/);
    const js = readFileSync(join(root, 'dist/typed.mjs'), 'utf8');
    // the only import left is Node's own module (require for CommonJS dependencies)
    expect(js.match(/^import .* from ['"][^'"]+['"]/gm)).toEqual([
      "import { createRequire as __agentctlCreateRequire } from 'node:module'",
    ]);
    expect(js).toContain('function defineAgent(');
  });
});

describe('the types describe what the runtime hands an agent', () => {
  /** The members an interface of sdk/agent.d.ts declares (properties and methods). */
  const declared = (iface: string): string[] => {
    const dts = readFileSync(join(REPO, 'sdk/agent.d.ts'), 'utf8');
    const body = new RegExp(`export interface ${iface}\\b[^{]*\\{([\\s\\S]*?)\\n\\}`).exec(dts)?.[1] ?? '';
    return [...body.matchAll(/^ {2}(?:readonly )?([A-Za-z]+)[?<(:]/gm)].map((m) => m[1] ?? '').sort();
  };

  it('ctx, ctx.state and ctx.log have exactly the members AgentContext, AgentState and AgentLog declare', () => {
    const root = project('ctx-shape', {
      'shape.mjs':
        "export default { runCycle(ctx) { ctx.log('shape', { ctx: Object.keys(ctx), state: Object.keys(ctx.state), log: Object.keys(ctx.log), signal: ctx.signal instanceof AbortSignal }); } };\n",
    });
    const r = agentctl(root, 'run', 'shape.mjs', '--json');
    expect(r.code, r.stderr).toBe(0);
    const fields = events(r).find((e) => e.type === 'log')?.fields as Record<string, string[] | boolean>;
    expect([...(fields.ctx as string[])].sort()).toEqual(declared('AgentContext'));
    expect([...(fields.state as string[])].sort()).toEqual(declared('AgentState'));
    expect([...(fields.log as string[])].sort()).toEqual(declared('AgentLog'));
    expect(fields.signal).toBe(true);
  });
});

describe('agentctl build', () => {
  it('bundles a TypeScript agent and the npm package it imports; the bundle runs in the sandbox with no node_modules', () => {
    const root = project('bundled', { 'src/agent.ts': TYPED_AGENT, ...TINY_PACKAGE });
    const built = agentctl(root, 'build', 'src/agent.ts', '--out', 'out/nested/agent.mjs');
    expect(built.code, built.stderr).toBe(0);
    // run from elsewhere: the agent process can read nothing but its scratch directory anyway
    cpSync(join(root, 'out/nested/agent.mjs'), join(dir.path, 'moved-agent.mjs'));
    const r = agentctl(dir.path, 'run', 'moved-agent.mjs', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const log = events(r).find((e) => e.type === 'log');
    expect(log).toMatchObject({ msg: 'cycle', fields: { n: 1, slug: 'hello-world-1', aborted: false } });
    expect(events(r).find((e) => e.type === 'publish')).toEqual({
      type: 'publish',
      run: 1,
      topic: 'slugs',
      payload: { n: 1 },
      recipient: 'indexer',
    });
  });

  it('names each build error with file:line:col, and a missing package with the command that installs it', () => {
    const root = project('broken', {
      'src/missing.ts': "import pad from 'left-pad';\nexport default { runCycle() { pad(); } };\n",
      'src/syntax.ts': 'export default {\n  runCycle(ctx) {\n    ctx.log(1 +);\n  },\n};\n',
      'src/nodefault.ts': 'export const runCycle = () => {};\n',
    });
    const missing = agentctl(root, 'build', 'src/missing.ts', '--out', 'x.mjs');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('src/missing.ts:1:17: Could not resolve "left-pad"');
    expect(missing.stderr).toContain('npm install left-pad');
    const syntax = agentctl(root, 'build', 'src/syntax.ts', '--out', 'x.mjs');
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toContain('src/syntax.ts:3:16: Unexpected ")"');
    const noDefault = agentctl(root, 'build', 'src/nodefault.ts', '--out', 'x.mjs');
    expect(noDefault.code).toBe(1);
    expect(noDefault.stderr).toMatch(/has no default export/);
    expect(existsSync(join(root, 'x.mjs'))).toBe(false);
    const nothing = agentctl(root, 'build', 'src/nope.ts', '--out', 'x.mjs');
    expect(nothing).toMatchObject({ code: 1, stderr: 'agentctl: no such file: src/nope.ts\n' });
    expect(agentctl(root, 'build', 'src/missing.ts').code).toBe(2);
    expect(agentctl(root, 'build', 'src/missing.ts', '--out', 'x.txt').code).toBe(2);
  });
});

describe('agentctl run', () => {
  const examples = join(REPO, 'examples/agents');

  it('runs cycles in the real process runtime: logs, published envelopes, state changes, outcome (JSON lines)', () => {
    const r = agentctl(examples, 'run', 'hello.mjs', '--cycles', '2', '--state', '{"count":40}', '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev[0]).toMatchObject({ type: 'agent', name: 'hello', runtime: 'process', manifest: { cycleSeconds: 10, timeoutSeconds: 5 } });
    expect(ev.filter((e) => e.type === 'log').map((e) => [e.run, e.msg, e.fields])).toEqual([
      [1, 'hello cycle', { cycle: 1, count: 41 }],
      [2, 'hello cycle', { cycle: 2, count: 42 }],
    ]);
    expect(ev.filter((e) => e.type === 'publish').map((e) => [e.topic, e.recipient, e.payload])).toEqual([
      ['greeting', 'echo', { text: 'hello #41', count: 41 }],
      ['greeting', 'echo', { text: 'hello #42', count: 42 }],
    ]);
    expect(ev.filter((e) => e.type === 'state')).toEqual([
      { type: 'state', run: 1, key: 'count', value: 41 },
      { type: 'state', run: 2, key: 'count', value: 42 },
    ]);
    expect(ev.filter((e) => e.type === 'outcome').map((e) => [e.kind, e.outcome])).toEqual([
      ['cycle', 'ok'],
      ['cycle', 'ok'],
    ]);
    expect(ev.at(-1)).toEqual({ type: 'end', ok: true, runs: 2, state: { count: 42 } });
  });

  it('prints the same human-readable by default', () => {
    const r = agentctl(examples, 'run', 'hello.mjs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^agent hello 0\.0\.0-local from hello\.mjs \(process runtime, isolation \w+\)\n/);
    expect(r.stdout).toContain('run 1: runCycle\n  log info  hello cycle {"cycle":1,"count":1}\n');
    expect(r.stdout).toContain('  publish greeting -> echo {"text":"hello #1","count":1}\n  state   count = 1\n  ok in ');
    expect(r.stdout).toMatch(/\nok: 1 run; state \{"count":1\}\n$/);
  });

  it('--envelope delivers one envelope to onEnvelope (then --cycles N cycles)', () => {
    const r = agentctl(
      examples,
      'run',
      'echo.mjs',
      '--envelope',
      '{"topic":"greeting","payload":{"text":"hi"}}',
      '--cycles',
      '1',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev.filter((e) => e.type === 'log').map((e) => [e.run, e.msg, e.fields])).toEqual([
      [1, 'echo received', { from: 'api', payload: { text: 'hi' }, seen: 1 }],
      [2, 'echo cycle', { seen: 1 }],
    ]);
    expect(ev.filter((e) => e.type === 'outcome').map((e) => e.kind)).toEqual(['envelope', 'cycle']);
    expect(ev.at(-1)).toEqual({ type: 'end', ok: true, runs: 2, state: { seen: 1, last: { text: 'hi' } } });
  });

  it('a failing cycle exits 1 with its error and stack (file:line); its effects are discarded and no cycle follows', () => {
    const root = project('failing', {
      'bad.mjs':
        "export default {\n  async runCycle(ctx) {\n    ctx.state.set('half', true);\n    ctx.log.warn('about to fail');\n    const order = undefined;\n    return order.items;\n  },\n};\n",
    });
    const j = agentctl(root, 'run', 'bad.mjs', '--cycles', '3', '--json');
    expect(j.code).toBe(1);
    const ev = events(j);
    expect(ev.find((e) => e.type === 'log')).toMatchObject({ level: 'warn', msg: 'about to fail' });
    expect(ev.some((e) => e.type === 'state')).toBe(false);
    const out = ev.find((e) => e.type === 'outcome');
    expect(out).toMatchObject({ outcome: 'error', error: "TypeError: Cannot read properties of undefined (reading 'items')" });
    expect(out?.stack).toContain('bad.mjs:6:');
    expect(ev.at(-1)).toEqual({ type: 'end', ok: false, runs: 1, state: {} });

    const h = agentctl(root, 'run', 'bad.mjs');
    expect(h.code).toBe(1);
    expect(h.stdout).toContain('ERROR after');
    expect(h.stdout).toMatch(/\n {4}at Object\.runCycle \(bad\.mjs:6:\d+\)\n/);
    expect(h.stdout).not.toContain('[eval]');
  });

  it('builds a .ts file first and maps its stack to the TypeScript source', () => {
    const root = project('ts-failing', {
      'src/agent.ts':
        "import { defineAgent } from 'agent-orchestrator/agent';\n\ninterface Order { items: string[] }\n\nexport default defineAgent({\n  runCycle(ctx) {\n    const order = ctx.state.get<Order>('order');\n    ctx.log('items', { n: order!.items.length });\n  },\n});\n",
    });
    const ok = agentctl(root, 'run', 'src/agent.ts', '--state', '{"order":{"items":["a","b"]}}', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(events(ok).find((e) => e.type === 'log')).toMatchObject({ msg: 'items', fields: { n: 2 } });
    const bad = agentctl(root, 'run', 'src/agent.ts', '--json');
    expect(bad.code).toBe(1);
    expect(events(bad).find((e) => e.type === 'outcome')?.stack).toMatch(/src\/agent\.ts:8:\d+/);
  });

  it('a timeout, a bundle that is not an agent, a syntax error, an unbundled import: exit 1 with the reason', () => {
    const root = project('not-agents', {
      'hang.mjs': 'export default { timeoutSeconds: 0.5, runCycle: () => new Promise(() => {}) };\n',
      'plain.mjs': 'export default { hello: 1 };\n',
      'syntax.mjs': 'export default {\n  runCycle(ctx) {\n    ctx.log(1 +);\n  },\n};\n',
      'unbundled.mjs': "import semver from 'semver';\nexport default { runCycle() { semver.valid('1.0.0'); } };\n",
    });
    const hang = agentctl(root, 'run', 'hang.mjs', '--json');
    expect(hang.code).toBe(1);
    expect(events(hang).find((e) => e.type === 'outcome')).toMatchObject({ outcome: 'timeout', error: 'timed out after 500 ms' });
    const plain = agentctl(root, 'run', 'plain.mjs');
    expect(plain).toMatchObject({
      code: 1,
      stderr: 'agentctl: plain.mjs is not an agent bundle: the default export has no runCycle function\n',
    });
    const syntax = agentctl(root, 'run', 'syntax.mjs');
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toContain('syntax.mjs:3:16: Unexpected ")"');
    const unbundled = agentctl(root, 'run', 'unbundled.mjs');
    expect(unbundled.code).toBe(1);
    expect(unbundled.stderr).toContain('it imports "semver", which is not in the bundle');
    expect(unbundled.stderr).toContain('agentctl build unbundled.mjs --out FILE');
  });

  it('Ctrl-C ends the agent processes with agentctl (exit 130)', async () => {
    const root = project('interrupted', {
      'forever.mjs': 'export default { timeoutSeconds: 600, runCycle: () => new Promise(() => { setInterval(() => {}, 1000); }) };\n',
    });
    const child = spawn(process.execPath, [AGENTCTL, 'run', 'forever.mjs'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await expect.poll(() => out).toContain('run 1: runCycle');
    // the processes agentctl started (the isolation wrapper, the agent process): its descendants
    const parentOf = (pid: number): number | null => {
      try {
        return Number(
          readFileSync(`/proc/${pid}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1],
        );
      } catch {
        return null;
      }
    };
    const descendants = (root: number): number[] => {
      const all = readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number);
      const found = new Set([root]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const p of all) if (!found.has(p) && found.has(parentOf(p) ?? -1)) grew = found.add(p) !== undefined;
      }
      found.delete(root);
      return [...found];
    };
    const pid = child.pid ?? -1;
    await expect.poll(() => descendants(pid).length).toBeGreaterThan(0);
    const started = descendants(pid);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await expect.poll(() => started.filter((p) => existsSync(`/proc/${p}`) && parentOf(p) !== null)).toEqual([]);
  });

  it('stops cleanly when the reader of its output goes away (`| head`): exit 141, no EPIPE crash', async () => {
    // 1000 cycles print far more than a pipe holds: writes after the reader closed must fail
    const child = spawn(process.execPath, [AGENTCTL, 'run', 'hello.mjs', '--cycles', '1000', '--json'], {
      cwd: examples,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(141);
    expect(err).not.toMatch(/EPIPE|Unhandled/);
  });

  it('bad flags are usage errors (exit 2) that say what is wrong; a missing file exits 1', () => {
    const cases: [string[], RegExp][] = [
      [['hello.mjs', '--cycles', 'x'], /--cycles must be a whole number/],
      [['hello.mjs', '--cycles', '1001'], /--cycles must be a whole number from 0 to 1000/],
      [['hello.mjs', '--state', '[1]'], /--state must be a JSON object/],
      [['hello.mjs', '--state', '{bad'], /--state is not JSON/],
      [['hello.mjs', '--state', '{"no spaces allowed":1}'], /--state: the key "no spaces allowed" does not match the state key rule/],
      [['hello.mjs', '--envelope', '{"payload":{}}'], /--envelope is not an envelope[\s\S]*topic/],
      [['hello.mjs', '--envelope', '"greeting"'], /--envelope must be a JSON object/],
      [['hello.mjs', '--name', 'api'], /--name must match/],
      [['hello.mjs', '--bogus'], /Unknown option '--bogus'/],
      [['hello.txt'], /FILE must be \.mjs, \.js or \.ts/],
      [[], /expected exactly one FILE/],
    ];
    for (const [args, message] of cases) {
      const r = agentctl(examples, 'run', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('usage: agentctl');
    }
    expect(agentctl(examples, 'run', 'nope.mjs')).toMatchObject({ code: 1, stderr: 'agentctl: no such file: nope.mjs\n' });
  });
});

describe('agentctl new', () => {
  it('writes a starter project that type-checks, builds, runs and passes its own test', () => {
    const created = agentctl(dir.path, 'new', 'starter-bot', '--dir', 'starter');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('starter/src/agent.ts');
    const root = join(dir.path, 'starter');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.devDependencies['agent-orchestrator']).toBe(`file:${REPO}`);
    expect(pkg.scripts.build).toBe('agentctl build src/agent.ts --out dist/starter-bot.mjs');
    expect(readFileSync(join(root, 'src/agent.ts'), 'utf8')).toContain("import { defineAgent } from 'agent-orchestrator/agent';");

    // what `npm install` would link: this checkout, and the Node types the test file uses
    mkdirSync(join(root, 'node_modules/.bin'), { recursive: true });
    mkdirSync(join(root, 'node_modules/@types'), { recursive: true });
    symlinkSync(REPO, join(root, 'node_modules/agent-orchestrator'));
    symlinkSync('../agent-orchestrator/bin/agentctl.mjs', join(root, 'node_modules/.bin/agentctl'));
    symlinkSync(join(REPO, 'node_modules/@types/node'), join(root, 'node_modules/@types/node'));

    const checked = tsc(root);
    expect(checked.code, checked.stdout).toBe(0);
    const built = agentctl(root, 'build', 'src/agent.ts', '--out', 'dist/starter-bot.mjs');
    expect(built.code, built.stderr).toBe(0);
    const ran = agentctl(root, 'run', 'dist/starter-bot.mjs', '--name', 'starter-bot', '--cycles', '2', '--json');
    expect(ran.code, ran.stderr).toBe(0);
    expect(
      events(ran)
        .filter((e) => e.type === 'publish')
        .map((e) => e.topic),
    ).toEqual(['starter-bot.tick', 'starter-bot.tick']);
    expect(events(ran).at(-1)).toEqual({ type: 'end', ok: true, runs: 2, state: { count: 2 } });

    // what `npm start` runs: the TypeScript source, named after package.json
    const started = agentctl(root, 'run', 'src/agent.ts', '--cycles', '3');
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^agent starter-bot 0\.0\.0-local from src\/agent\.ts /);
    expect(started.stdout).toMatch(/\nok: 3 runs; state \{"count":3\}\n$/);

    // its own test (what `npm test` runs)
    const test = spawnSync(process.execPath, ['--test', 'test/agent.test.ts'], { cwd: root, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/pass 2\b/);
  });

  it('validates NAME with the contract rule (exit 2) and never writes into a non-empty directory (exit 1)', () => {
    for (const name of ['Bad_Name', 'a', 'api', 'orchestrator', '-x']) {
      const r = agentctl(dir.path, 'new', name);
      expect(r.code, name).toBe(2);
      expect(existsSync(join(dir.path, name))).toBe(false);
    }
    mkdirSync(join(dir.path, 'taken'));
    writeFileSync(join(dir.path, 'taken/keep.txt'), 'mine');
    const r = agentctl(dir.path, 'new', 'taken');
    expect(r).toMatchObject({ code: 1, stderr: 'agentctl: taken exists and is not empty\n' });
    expect(readFileSync(join(dir.path, 'taken/keep.txt'), 'utf8')).toBe('mine');
  });
});
