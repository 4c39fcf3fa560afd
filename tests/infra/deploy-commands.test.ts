/**
 * The deploy commands as docs/deploy.md and the README show them (issue #10, item 6), run with
 * the repository's CDK CLI, offline and without AWS credentials, up to where AWS would be
 * contacted. The `npx cdk ...` lines are read from the documents themselves, so a documented
 * command that stops working — or a new one — is tested as written.
 *
 * Each runs in a scratch project directory: a cdk.json like the repository's (its app run with
 * the repository's tsx, by absolute path) and a keys/signing.pub, as `agentctl keygen --out keys`
 * leaves it. What is asserted: the app synthesized (no "agent-orchestrator: ..." refusal), and the
 * command then failed only for lack of AWS credentials — or, for `cdk destroy` without a
 * terminal, at its confirmation prompt. `cdk deploy` without a key prints the warning, and
 * `cdk synth` without a key writes a template that CloudFormation will refuse.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/function';
import { TRUSTED_KEYS_RULE_ID } from '../../infra/stack';
import { cdkCommands, offlineCdkEnv, tempDir, TEST_PUBKEY } from './synth';

const deployMd = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const readmeDeploy = /^## Deploy to AWS\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
const documented = [...new Set([...cdkCommands(deployMd), ...cdkCommands(readmeDeploy)])];

const project = tempDir('cdk-project-');
const home = tempDir('cdk-home-');

const offlineEnv = () => offlineCdkEnv(home, { CDK_DISABLE_VERSION_CHECK: '1' });

type Run = SpawnSyncReturns<string> & { output_: string };
const runs = new Map<string, Run>();

/** `npx cdk <args>` as the CLI of this repository runs it (no notices: they would be fetched) */
function cdk(args: string, cwd = project): Run {
  const argv = args.split(/\s+/).filter(Boolean);
  const r = spawnSync(join(REPO_ROOT, 'node_modules/.bin/cdk'), [...argv, '--no-notices'], {
    cwd,
    env: offlineEnv(),
    encoding: 'utf8',
    input: '',
    timeout: 240_000,
  });
  return Object.assign(r, { output_: `${r.stdout}\n${r.stderr}` });
}

/** the app's own refusal, as infra/app.ts prints it */
const APP_REFUSED = /agent-orchestrator: (invalid|unknown|-c )/;
const NO_CREDENTIALS =
  /Need to perform AWS calls for account \d{12}, but no credentials have been configured|Unable to resolve AWS account to use/;
const WARNING = /this template cannot be deployed \(CloudFormation rule TrustedKeysRequired refuses it\)/;

const extra = ['deploy', 'synth --quiet -o cdk.out.nokeys', 'destroy --force'];

/** the documented cdk.context.json (docs/deploy.md): options every command then reads */
const contextJson = JSON.parse(/put them in `cdk.context.json`[\s\S]*?```json\n([\s\S]*?)```/.exec(deployMd)?.[1] ?? '{}') as Record<
  string,
  string
>;
const withContextFile = tempDir('cdk-project-context-');
let contextRun: Run;

beforeAll(() => {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { app: string; context: unknown };
  expect(cdkJson.app).toBe('npx tsx infra/app.ts');
  writeFileSync(
    join(project, 'cdk.json'),
    JSON.stringify({ app: `${join(REPO_ROOT, 'node_modules/.bin/tsx')} ${join(REPO_ROOT, 'infra/app.ts')}`, context: cdkJson.context }),
  );
  mkdirSync(join(project, 'keys'));
  writeFileSync(join(project, 'keys/signing.pub'), `${TEST_PUBKEY}\n`);
  for (const c of [...documented, ...extra]) runs.set(c, cdk(c));
  // the same project with the documented cdk.context.json, and no -c at all
  for (const f of ['cdk.json', 'keys/signing.pub']) {
    mkdirSync(join(withContextFile, f, '..'), { recursive: true });
    writeFileSync(join(withContextFile, f), readFileSync(join(project, f)));
  }
  writeFileSync(join(withContextFile, 'cdk.context.json'), JSON.stringify(contextJson));
  contextRun = cdk('synth --quiet -o cdk.out', withContextFile);
}, 900_000);

describe('the documented cdk commands, offline', () => {
  it('the documents show bootstrap, diff, deploy and destroy', () => {
    expect(documented).toEqual(
      expect.arrayContaining([
        'bootstrap aws://123456789012/eu-west-1',
        'bootstrap',
        'diff -c trustedKeysFile=keys/signing.pub -c alarmEmail=ops@example.com',
        'deploy -c trustedKeysFile=keys/signing.pub -c alarmEmail=ops@example.com',
        'destroy',
      ]),
    );
    // the web dashboard's JWT deployment is among them (item 15)
    expect(
      documented.some(
        (c) =>
          c.startsWith('deploy ') && c.includes('-c authMode=jwt') && c.includes('-c jwtIssuer=https://') && c.includes('-c jwtAudience='),
      ),
    ).toBe(true);
    for (const c of documented) expect(c, c).not.toMatch(/\\/);
  });

  it('each synthesizes the app and stops only where AWS is needed (or, destroy, at its confirmation)', () => {
    for (const c of documented) {
      const r = runs.get(c) as Run;
      expect(r.error, c).toBeUndefined();
      expect(r.output_, c).not.toMatch(APP_REFUSED);
      expect(r.output_, c).not.toMatch(/Subprocess exited with error/);
      if (c === 'destroy') expect(r.output_, c).toMatch(/terminal \(TTY\) is not attached so we are unable to get a confirmation/);
      else expect(r.output_, c).toMatch(NO_CREDENTIALS);
      expect(r.status, c).not.toBe(0);
    }
  });

  it('bootstrap reaches the bootstrapping of the named environment', () => {
    expect(runs.get('bootstrap aws://123456789012/eu-west-1')?.output_).toMatch(
      /Bootstrapping environment aws:\/\/123456789012\/eu-west-1/,
    );
  });

  it('deploy and diff with the key synthesize without the warning; destroy --force goes as far as the stack', () => {
    for (const c of documented.filter((x) => x.startsWith('deploy') || x.startsWith('diff'))) {
      expect(runs.get(c)?.output_, c).toMatch(/Synthesis time|Bundling asset/);
      expect(runs.get(c)?.output_, c).not.toMatch(WARNING);
    }
    expect(runs.get('destroy --force')?.output_).toMatch(/AgentOrchestrator: destroying/);
    expect(runs.get('destroy --force')?.output_).toMatch(NO_CREDENTIALS);
  });
});

describe('without a trusted key', () => {
  it('cdk deploy synthesizes, prints why the deployment will be refused, and stops at AWS', () => {
    const r = runs.get('deploy') as Run;
    expect(r.output_).not.toMatch(APP_REFUSED);
    expect(r.output_).toMatch(WARNING);
    expect(r.output_).toContain('-c trustedKeysFile=keys/signing.pub');
    expect(r.output_).toMatch(NO_CREDENTIALS);
  });

  it('cdk synth writes a template whose rule CloudFormation evaluates before creating anything', () => {
    const r = runs.get('synth --quiet -o cdk.out.nokeys') as Run;
    expect(r.status, r.output_).toBe(0);
    expect(r.output_).toMatch(WARNING);
    const template = JSON.parse(readFileSync(join(project, 'cdk.out.nokeys/AgentOrchestrator.template.json'), 'utf8')) as {
      Rules: Record<string, { Assertions: { AssertDescription: string }[] }>;
    };
    expect(template.Rules[TRUSTED_KEYS_RULE_ID]?.Assertions[0]?.AssertDescription).toMatch(
      /^agent-orchestrator: deployment refused: no trusted bundle-signing key/,
    );
  });
});

describe('options kept in cdk.context.json, as documented', () => {
  it('every command reads them: a plain cdk synth has the key and the alarm e-mail, and no refusing rule', () => {
    expect(contextJson).toEqual({ trustedKeysFile: 'keys/signing.pub', alarmEmail: 'ops@example.com' });
    expect(contextRun.status, contextRun.output_).toBe(0);
    expect(contextRun.output_).not.toMatch(WARNING);
    const template = JSON.parse(readFileSync(join(withContextFile, 'cdk.out/AgentOrchestrator.template.json'), 'utf8')) as {
      Rules?: Record<string, unknown>;
      Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
    };
    expect(Object.keys(template.Rules ?? {})).not.toContain(TRUSTED_KEYS_RULE_ID);
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fns).toHaveLength(10);
    // every function but the sandbox (agent code: it is told nothing of the deployment, keys included)
    const sandbox = fns.filter((f) => f.Properties.Environment.Variables.AGENT_RUNTIME_PROCESSES !== undefined);
    expect(sandbox).toHaveLength(1);
    expect(sandbox[0]?.Properties.Environment.Variables.AGENT_BUNDLE_PUBKEYS).toBeUndefined();
    for (const f of fns) if (!sandbox.includes(f)) expect(f.Properties.Environment.Variables.AGENT_BUNDLE_PUBKEYS).toBe(TEST_PUBKEY);
    expect(
      Object.values(template.Resources).some((r) => r.Type === 'AWS::SNS::Subscription' && r.Properties.Endpoint === 'ops@example.com'),
    ).toBe(true);
  });
});
