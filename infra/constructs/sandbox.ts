/**
 * Sandbox: the function agent code runs in (the cloud's `lambda` runtime). The runner invokes it
 * synchronously for each run and the agent manager for each inspection; inside, the agent runs in
 * an agent process of its own (Node's permission model, an empty environment, killed at its
 * deadline; functions/sandbox/core.ts).
 *
 * Zero permissions: its role may write its own log group and nothing else, so the credentials an
 * agent could find in the execution environment (`/proc/<pid>/environ` of the handler) can do
 * nothing. Its environment carries no name of a table, bucket, bus or queue and no key; it gets the
 * bundle's bytes (or a presigned GET URL the runner signed, checked against the sha256) and the
 * run's inputs in the request, and answers with the result, which the runner validates.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';

export class AgentSandboxFunction extends Construct {
  readonly function: OrchestratorFunction;

  constructor(scope: Construct, id: string, ctx: OrchestratorContext) {
    super(scope, id);
    const agentEnv = ctx.props.agentEnv as Record<string, string | undefined>;
    const pass = (k: string) => (agentEnv[k] !== undefined ? { [k]: agentEnv[k] as string } : {});
    this.function = new OrchestratorFunction(this, 'Sandbox', {
      defaults: ctx.functions,
      dir: 'sandbox',
      description: 'runs agent code (one run or one inspection) in an agent process; its role can only write its logs',
      memoryMb: ctx.props.sandbox.memoryMb,
      // the runner waits for it: a run cannot outlast the runner's own timeout
      timeout: Duration.seconds(ctx.props.runner.timeoutSeconds),
      untrusted: true,
      environment: {
        LOG_LEVEL: ctx.props.logLevel,
        // one agent process per execution environment: the next agent's run never meets a
        // process the previous agent left
        AGENT_RUNTIME_PROCESSES: '1',
        ...pass('AGENT_RUN_MEMORY_MB'),
        ...pass('AGENT_MAX_BUNDLE_BYTES'),
      },
    });
  }

  /** lets a function invoke the sandbox (the runner, the agent manager) and tells it which */
  allowInvoke(fn: OrchestratorFunction): void {
    fn.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeSandbox',
        actions: ['lambda:InvokeFunction'],
        resources: [this.function.fn.functionArn],
      }),
    );
    fn.fn.addEnvironment('SANDBOX_FUNCTION', this.function.fn.functionName);
    fn.fn.addEnvironment('AGENT_RUNTIME', 'lambda');
  }
}
