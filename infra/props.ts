/**
 * Props of the orchestrator stack, validated with zod (the stack's boundary), and their mapping
 * from `cdk deploy -c key=value` context values (see docs/deploy.md for the list).
 *
 * Security default: bundles must be signed. `trustedPublicKeys` (base64 raw ed25519 keys, the
 * contents of `signing.pub`) is required to DEPLOY unless `allowUnsignedBundles` is set
 * explicitly. Without either the app still synthesizes — `cdk bootstrap`, `cdk diff`,
 * `cdk destroy` and `cdk synth` all synthesize the app and must work without the deploy options —
 * and the template carries a rule that makes CloudFormation refuse the deployment (see
 * `deployRefusal` and infra/stack.ts). The keys are parsed with the same code the functions use
 * at start-up, so a bad key fails the synth, not the first cold start.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { COMPONENT_NAMES, type ComponentName } from '../shared/definitions/routing';
import { EnvSchema } from '../shared/core/config';
import { parseTrustedKeys } from '../shared/core/bundle/signing';
import { InfraConfigError } from './errors';

/**
 * Knobs of shared/core/config.ts that the stack passes through to every function (same names as
 * the env vars; unset = the function's default).
 */
export const AGENT_ENV_KEYS = [
  'AGENT_ERR_THRESHOLD',
  'AGENT_MAX_RESTARTS',
  'AGENT_RESTART_WINDOW_SECONDS',
  'AGENT_RESTART_BACKOFF_BASE_SECONDS',
  'AGENT_RESTART_BACKOFF_MAX_SECONDS',
  'AGENT_STUCK_GRACE_SECONDS',
  'AGENT_SCHEDULE_SHARDS',
  'AGENT_RUN_MEMORY_MB',
  'AGENT_MAX_BUNDLE_BYTES',
  'AGENT_VERIFIER',
] as const;
export type AgentEnvKey = (typeof AGENT_ENV_KEYS)[number];

/** the values CloudWatch Logs accepts as a retention period (not "never expire": logs cost) */
const LOG_RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0 && v !== RetentionDays.INFINITE),
);

const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const OrchestratorPropsSchema = z
  .object({
    /** base64 raw ed25519 public keys trusted to sign bundles (AGENT_BUNDLE_PUBKEYS) */
    trustedPublicKeys: z.array(z.string().min(1)).default([]),
    /** run bundles unverified (every load writes a `bundle.unverified` ledger event) */
    allowUnsignedBundles: z.boolean().default(false),
    /** initial state of each component switch (a redeploy resets switches to this) */
    components: z
      .object(
        Object.fromEntries(COMPONENT_NAMES.map((c) => [c, z.boolean().default(true)])) as Record<ComponentName, z.ZodDefault<z.ZodBoolean>>,
      )
      .strict()
      .default({ manager: true, scheduler: true, runner: true, monitor: true, bus: true }),
    retention: z
      .object({
        /** CloudWatch Logs retention of every log group (a CloudWatch-supported value) */
        logDays: z
          .number()
          .int()
          .refine((d) => LOG_RETENTION_VALUES.has(d), { message: `must be one of ${[...LOG_RETENTION_VALUES].join(', ')}` })
          .default(30),
        /** ledger entries expire after this many days (AGENT_LEDGER_RETENTION_DAYS); 0 = keep forever */
        ledgerDays: z.number().int().min(0).max(36_500).default(0),
        /** EventBridge archive of the agents bus; 0 = keep forever */
        archiveDays: z.number().int().min(0).max(36_500).default(30),
        /** superseded bundle versions (S3 noncurrent versions) are deleted after this many days */
        noncurrentBundleDays: positiveInt(36_500).default(90),
        /** S3 server access logs of the hot directory */
        accessLogDays: positiveInt(36_500).default(90),
        /** Object Lock (compliance mode) retention of each ledger digest: it cannot be deleted or shortened before */
        digestDays: positiveInt(36_500).default(365),
      })
      .strict()
      .default({ logDays: 30, ledgerDays: 0, archiveDays: 30, noncurrentBundleDays: 90, accessLogDays: 90, digestDays: 365 }),
    alarms: z
      .object({
        /** e-mail address subscribed to the alarm topic (confirm the subscription mail) */
        email: z.email().optional(),
        /** existing SNS topic for alarm notifications (instead of, or besides, the e-mail) */
        topicArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/, 'must be an SNS topic ARN')
          .optional(),
      })
      .strict()
      .default({}),
    api: z
      .object({
        /** `iam` (SigV4, default) or `jwt` (an OIDC issuer, e.g. Cognito) */
        authMode: z.enum(['iam', 'jwt']).default('iam'),
        jwt: z
          .object({
            issuer: z.url().refine((u) => u.startsWith('https://'), 'the JWT issuer must be an https URL'),
            audience: z.array(z.string().min(1)).min(1),
          })
          .strict()
          .optional(),
        /** stage-wide throttling (requests per second, burst) */
        rateLimit: positiveInt(10_000).default(50),
        burstLimit: positiveInt(5_000).default(100),
      })
      .strict()
      .default({ authMode: 'iam', rateLimit: 50, burstLimit: 100 }),
    runner: z
      .object({
        memoryMb: z.number().int().min(256).max(10_240).default(1024),
        /** Lambda timeout of one run (an agent's timeoutSeconds plus load grace must fit) */
        timeoutSeconds: z.number().int().min(30).max(900).default(900),
        /** most runner invocations at once (SQS event source maximum concurrency) */
        maxConcurrency: z.number().int().min(2).max(1000).default(50),
      })
      .strict()
      .default({ memoryMb: 1024, timeoutSeconds: 900, maxConcurrency: 50 }),
    /** pass-through of shared/core/config.ts knobs (validated with the functions' own schema) */
    agentEnv: z.partialRecord(z.enum(AGENT_ENV_KEYS), z.string()).default({}),
    /** X-Ray active tracing on every function (off by default: it is billed per trace) */
    tracing: z.boolean().default(false),
    /** keep the tables and the hot-directory bucket when the stack is deleted */
    retainData: z.boolean().default(true),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .strict()
  .superRefine((p, ctx) => {
    try {
      parseTrustedKeys(p.trustedPublicKeys.join(','));
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['trustedPublicKeys'], message: (e as Error).message });
    }
    if (p.api.authMode === 'jwt' && !p.api.jwt) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'jwt'],
        message: 'authMode jwt needs jwt.issuer and jwt.audience (-c jwtIssuer=... -c jwtAudience=...)',
      });
    }
    if (p.api.authMode === 'iam' && p.api.jwt) {
      ctx.addIssue({ code: 'custom', path: ['api', 'jwt'], message: 'jwt settings given but authMode is iam; set authMode=jwt' });
    }
    if (p.api.burstLimit < p.api.rateLimit) {
      ctx.addIssue({ code: 'custom', path: ['api', 'burstLimit'], message: 'burstLimit must be at least rateLimit' });
    }
    const env = EnvSchema.safeParse(p.agentEnv);
    if (!env.success) ctx.addIssue({ code: 'custom', path: ['agentEnv'], message: z.prettifyError(env.error) });
  });

export type OrchestratorPropsInput = z.input<typeof OrchestratorPropsSchema>;
export type OrchestratorProps = z.output<typeof OrchestratorPropsSchema>;

/**
 * Why this configuration must not be deployed, or null: no trusted key and unsigned bundles not
 * allowed explicitly. The stack turns it into a CloudFormation rule (the deployment stops there
 * with `rule`) and a synth-time warning (`warning`).
 */
export function deployRefusal(
  p: Pick<OrchestratorProps, 'trustedPublicKeys' | 'allowUnsignedBundles'>,
): { rule: string; warning: string } | null {
  if (p.trustedPublicKeys.length > 0 || p.allowUnsignedBundles) return null;
  const why = 'no trusted bundle-signing key was given, so every function would run unsigned bundles.';
  const fix =
    'Deploy with -c trustedKeysFile=keys/signing.pub (or -c trustedKeys=<base64>[,...]); to run unsigned bundles on purpose, -c allowUnsignedBundles=true.';
  return {
    rule: `agent-orchestrator: deployment refused: ${why} ${fix}`,
    warning: `agent-orchestrator: this template cannot be deployed (CloudFormation rule TrustedKeysRequired refuses it): ${why} ${fix}`,
  };
}

export function resolveProps(input: unknown): OrchestratorProps {
  const r = OrchestratorPropsSchema.safeParse(input ?? {});
  if (!r.success) throw new InfraConfigError(`invalid orchestrator stack props:\n${z.prettifyError(r.error)}`);
  return r.data;
}

// ---------------------------------------------------------------------------------------------
// `cdk deploy -c key=value` context → props

/** Context keys the app understands (documented in docs/deploy.md). */
export const CONTEXT_KEYS = [
  'stackName',
  'trustedKeys',
  'trustedKeysFile',
  'allowUnsignedBundles',
  'disable',
  'logRetentionDays',
  'ledgerRetentionDays',
  'archiveRetentionDays',
  'noncurrentBundleDays',
  'accessLogDays',
  'ledgerDigestRetentionDays',
  'alarmEmail',
  'alarmTopicArn',
  'authMode',
  'jwtIssuer',
  'jwtAudience',
  'apiRateLimit',
  'apiBurstLimit',
  'runnerMemoryMb',
  'runnerTimeoutSeconds',
  'runnerMaxConcurrency',
  'tracing',
  'retainData',
  'logLevel',
  ...AGENT_ENV_KEYS,
] as const;
type ContextKey = (typeof CONTEXT_KEYS)[number];

/** CDK's own context (feature flags `@aws-cdk/...`, `aws:cdk:...`, lookups `x:account=...`) */
const isCdkOwnContext = (k: string) => k.startsWith('@') || k.includes(':') || k === 'acknowledged-issue-numbers';

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}
function bool(key: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InfraConfigError(`-c ${key}: expected true or false, got ${JSON.stringify(v)}`);
}
function int(key: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new InfraConfigError(`-c ${key}: expected a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Reads the context of `cdk synth/deploy -c ...` into props input (then validated by
 * resolveProps). Unknown non-CDK keys are rejected, so a typo does not silently deploy defaults.
 */
export function propsFromContext(context: Record<string, unknown>): { stackName: string; props: OrchestratorPropsInput } {
  const unknown = Object.keys(context).filter((k) => !isCdkOwnContext(k) && !(CONTEXT_KEYS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new InfraConfigError(`unknown context key(s): ${unknown.join(', ')}; known: ${CONTEXT_KEYS.join(', ')}`);
  }
  const get = (k: ContextKey): string | undefined => {
    const v = context[k];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
  const disabled = list(get('disable')) ?? [];
  const badComponents = disabled.filter((c) => !(COMPONENT_NAMES as readonly string[]).includes(c));
  if (badComponents.length) {
    throw new InfraConfigError(`-c disable: unknown component(s) ${badComponents.join(', ')}; one of ${COMPONENT_NAMES.join(', ')}`);
  }
  const stackName = get('stackName') ?? 'AgentOrchestrator';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,100}$/.test(stackName)) {
    throw new InfraConfigError(
      `-c stackName: ${JSON.stringify(stackName)} is not a valid CloudFormation stack name (letters, digits, hyphens; at most 101)`,
    );
  }
  const keyFiles = list(get('trustedKeysFile')) ?? [];
  const fileKeys = keyFiles.flatMap((f) => {
    try {
      return list(readFileSync(f, 'utf8').replace(/\s+/g, ',')) ?? [];
    } catch (e) {
      throw new InfraConfigError(`-c trustedKeysFile: cannot read ${f}: ${(e as Error).message}`);
    }
  });
  const keys = [...(list(get('trustedKeys')) ?? []), ...fileKeys];
  const issuer = get('jwtIssuer');
  const audience = list(get('jwtAudience'));
  const agentEnv = Object.fromEntries(AGENT_ENV_KEYS.flatMap((k) => (get(k) === undefined ? [] : [[k, get(k)]])));
  const defined = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const props: OrchestratorPropsInput = defined({
    trustedPublicKeys: keys.length ? keys : undefined,
    allowUnsignedBundles: bool('allowUnsignedBundles', get('allowUnsignedBundles')),
    components: Object.fromEntries(COMPONENT_NAMES.map((c) => [c, !disabled.includes(c)])),
    retention: defined({
      logDays: int('logRetentionDays', get('logRetentionDays')),
      ledgerDays: int('ledgerRetentionDays', get('ledgerRetentionDays')),
      archiveDays: int('archiveRetentionDays', get('archiveRetentionDays')),
      noncurrentBundleDays: int('noncurrentBundleDays', get('noncurrentBundleDays')),
      accessLogDays: int('accessLogDays', get('accessLogDays')),
      digestDays: int('ledgerDigestRetentionDays', get('ledgerDigestRetentionDays')),
    }),
    alarms: defined({ email: get('alarmEmail'), topicArn: get('alarmTopicArn') }),
    api: defined({
      authMode: get('authMode'),
      jwt: issuer !== undefined || audience !== undefined ? { issuer: issuer ?? '', audience: audience ?? [] } : undefined,
      rateLimit: int('apiRateLimit', get('apiRateLimit')),
      burstLimit: int('apiBurstLimit', get('apiBurstLimit')),
    }),
    runner: defined({
      memoryMb: int('runnerMemoryMb', get('runnerMemoryMb')),
      timeoutSeconds: int('runnerTimeoutSeconds', get('runnerTimeoutSeconds')),
      maxConcurrency: int('runnerMaxConcurrency', get('runnerMaxConcurrency')),
    }),
    agentEnv,
    tracing: bool('tracing', get('tracing')),
    retainData: bool('retainData', get('retainData')),
    logLevel: get('logLevel'),
  }) as OrchestratorPropsInput;
  return { stackName, props };
}
