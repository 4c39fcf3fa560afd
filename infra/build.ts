/**
 * Builds the CDK app: context (`-c key=value`) → validated props → the stack, with the cdk-nag
 * packs registered. Used by infra/app.ts (the `cdk` entry point) and by tests/infra.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { REPO_ROOT } from './constructs/function';
import { addNagChecks } from './nag';
import { propsFromContext } from './props';
import { OrchestratorStack } from './stack';

/** the `context` of cdk.json (feature flags): the CLI passes it to the app; tests pass it here */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export interface BuildOptions {
  /** `-c` context; defaults to the App's own (cdk.json + CLI) */
  context?: Record<string, unknown>;
  outdir?: string;
  /** register the cdk-nag packs (default true) */
  nag?: boolean;
  /** bundle the functions with esbuild (default true); false = CDK skips bundling (tests of props) */
  bundle?: boolean;
}

export function buildApp(opts: BuildOptions = {}): { app: App; stack: OrchestratorStack } {
  const appProps: AppProps = {
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    context: { ...(opts.context ?? {}), ...(opts.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}) },
  };
  const app = new App(appProps);
  const { stackName, props } = propsFromContext(app.node.getAllContext());
  const stack = new OrchestratorStack(app, stackName, {
    orchestrator: props,
    description: 'Agent orchestrator (agent-orchestrator): signed bundles, scheduler, runners, health monitor, event bus, ledger',
  });
  if (opts.nag !== false) addNagChecks(app);
  return { app, stack };
}
