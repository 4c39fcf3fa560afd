/**
 * Synthesizes the orchestrator stack in-process for the infra tests: the real app builder
 * (infra/build.ts) with cdk.json's feature flags, the cdk-nag packs registered, and CDK's
 * bundling skipped (the functions' esbuild bundles are checked by synth-cli.test.ts, which runs
 * the real `npm run synth`). Call once per test file, at module level.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, cdkJsonContext } from '../../infra/build';
import type { OrchestratorStack } from '../../infra/stack';

/** a valid base64 raw ed25519 public key (the contents of an agentctl signing.pub) */
export const TEST_PUBKEY = 'xJE2kL77nisWr5szOStwRX8EX/JaU+K6tX1jxjxWV50=';

const tempDirs: string[] = [];
// registered while the test file imports this module (collection), so it also covers
// directories made inside tests
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** a temporary directory removed after the test file */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export interface Synthesized {
  app: ReturnType<typeof buildApp>['app'];
  stack: OrchestratorStack;
  template: Template;
  resources: Record<string, CfnResourceJson>;
  /** logical id of a construct's CloudFormation resource */
  id(construct: IConstruct): string;
}

export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  DependsOn?: string[];
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, any>;
}

export function synth(context: Record<string, string>, opts: { nag?: boolean } = {}): Synthesized {
  const { app, stack } = buildApp({
    context: { ...cdkJsonContext(), ...context },
    outdir: tempDir('infra-test-'),
    bundle: false,
    nag: opts.nag ?? true,
  });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  const id = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
  return { app, stack, template, resources, id };
}

export function ofType(resources: Record<string, CfnResourceJson>, type: string): [string, CfnResourceJson][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** `{ "Fn::GetAtt": [id, "Arn"] }` */
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
export const refOf = (logicalId: string) => ({ Ref: logicalId });

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** every statement of the inline policies attached to a role (by the role's logical id) */
export function statementsOfRole(resources: Record<string, CfnResourceJson>, roleId: string): Statement[] {
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, p]) => ((p.Properties?.Roles ?? []) as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(refOf(roleId))))
    .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as Statement[]);
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** the `npx cdk ...` commands (after `npx cdk `) of the sh blocks of a markdown text: continuations joined, comments stripped */
export function cdkCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n')) {
      const m = /^npx cdk (.+?)\s*(?:#.*)?$/.exec(line.trim());
      if (m?.[1]) out.push(m[1]);
    }
  }
  return out;
}

/** the `-c key=value` options of a cdk command line, as context */
export function contextOf(command: string): Record<string, string> {
  const args = command.split(/\s+/);
  const context: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a !== '-c' && a !== '--context') return;
    const [k, ...v] = (args[i + 1] ?? '').split('=');
    if (k) context[k] = v.join('=');
  });
  return context;
}

/**
 * An environment for the CDK CLI with no AWS credentials or config at all and no way to reach the
 * metadata service (so a command stops where it would contact AWS), HOME in `home`.
 */
export function offlineCdkEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CDK_')) env[k] = v;
  return {
    ...env,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    ...extra,
  };
}
