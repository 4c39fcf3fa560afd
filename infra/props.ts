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
import { ALL_COMPONENT_NAMES, type ComponentName } from '../shared/definitions/routing';
import { EnvSchema } from '../shared/core/config';
import { parseTrustedKeys } from '../shared/core/bundle/signing';
import { DEFAULT_KAFKA_GROUP, parseBrokers, parseInbound, parseOutbound } from '../shared/core/kafka/config';
import { OrchestratorError } from '../shared/core/errors';
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
  'AGENT_RUNTIMES_ALLOWED',
] as const;
export type AgentEnvKey = (typeof AGENT_ENV_KEYS)[number];

/** the values CloudWatch Logs accepts as a retention period (not "never expire": logs cost) */
const LOG_RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0 && v !== RetentionDays.INFINITE),
);

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/** How the Kafka functions authenticate to the brokers (the event source mapping and the producer alike). */
export const KAFKA_AUTH = ['none', 'scram-sha-512', 'scram-sha-256', 'plain'] as const;

/**
 * The optional Kafka bridge (infra/constructs/kafka.ts, docs/kafka.md). Absent: nothing of it is
 * in the template.
 */
export const KafkaPropsSchema = z
  .object({
    /** bootstrap brokers host:port (the producer's; the inbound event source's for self-managed Kafka) */
    brokers: z.array(z.string().min(1)).default([]),
    /** Kafka topic → bus topic (KAFKA_INBOUND) */
    inbound: z.array(z.object({ kafkaTopic: z.string().min(1), busTopic: z.string().min(1) }).strict()).default([]),
    /** bus topic pattern → Kafka topic (KAFKA_OUTBOUND) */
    outbound: z.array(z.object({ pattern: z.string().min(1), kafkaTopic: z.string().min(1) }).strict()).default([]),
    /** consumer group of the inbound event source mappings (KAFKA_GROUP) */
    group: z.string().min(1).max(255).default(DEFAULT_KAFKA_GROUP),
    /** Amazon MSK cluster ARN: inbound through an MSK event source mapping; absent: self-managed Kafka */
    mskClusterArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/, 'must be an MSK cluster ARN')
      .optional(),
    /** subnets and security groups that reach the brokers (MSK: the producer's; self-managed: the event source's too) */
    vpc: z
      .object({
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')).min(1),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id')).min(1),
      })
      .strict()
      .optional(),
    /** SASL mechanism; anything but none needs `secretArn` (Secrets Manager, JSON {username, password}) */
    auth: z.enum(KAFKA_AUTH).default('none'),
    secretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/, 'must be a Secrets Manager secret ARN')
      .optional(),
    /** TLS to the brokers (the producer; the event source mapping follows the cluster's listener) */
    tls: z.boolean().default(true),
    /** where a new consumer group starts reading */
    startingPosition: z.enum(['TRIM_HORIZON', 'LATEST']).default('TRIM_HORIZON'),
    /** records per invocation (inbound) and envelopes per invocation (outbound) */
    batchSize: positiveInt(10_000).default(100),
  })
  .strict()
  .superRefine((k, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (k.inbound.length === 0 && k.outbound.length === 0) issue('inbound', 'the Kafka bridge needs kafkaInbound or kafkaOutbound');
    if (k.outbound.length > 0 && k.brokers.length === 0)
      issue('brokers', 'kafkaOutbound needs kafkaBrokers (the producer connects to them)');
    if (k.inbound.length > 0 && !k.mskClusterArn && k.brokers.length === 0)
      issue('brokers', 'kafkaInbound needs kafkaMskClusterArn (Amazon MSK) or kafkaBrokers (self-managed Kafka)');
    if (k.auth !== 'none' && !k.secretArn) issue('secretArn', `kafkaAuth=${k.auth} needs kafkaSecretArn`);
    if (k.auth === 'none' && k.secretArn) issue('secretArn', 'kafkaSecretArn given but kafkaAuth is none');
    if (k.mskClusterArn && (k.auth === 'scram-sha-256' || k.auth === 'plain'))
      issue('auth', 'Amazon MSK event sources take SASL/SCRAM-SHA-512 (or none); use kafkaAuth=scram-sha-512');
    if (k.mskClusterArn && k.outbound.length > 0 && !k.vpc)
      issue('vpc', 'the producer reaches an MSK cluster inside its VPC: give kafkaSubnetIds and kafkaSecurityGroupIds');
  });
export type KafkaProps = z.output<typeof KafkaPropsSchema>;

export const OrchestratorPropsSchema = z
  .object({
    /** base64 raw ed25519 public keys trusted to sign bundles (AGENT_BUNDLE_PUBKEYS) */
    trustedPublicKeys: z.array(z.string().min(1)).default([]),
    /** run bundles unverified (every load writes a `bundle.unverified` ledger event) */
    allowUnsignedBundles: z.boolean().default(false),
    /** initial state of each component switch (a redeploy resets switches to this) */
    components: z
      .object(
        Object.fromEntries(ALL_COMPONENT_NAMES.map((c) => [c, z.boolean().default(true)])) as Record<
          ComponentName,
          z.ZodDefault<z.ZodBoolean>
        >,
      )
      .strict()
      .default({ manager: true, scheduler: true, runner: true, monitor: true, bus: true, kafka: true }),
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
        /**
         * the runner only claims, reads, invokes the sandbox and records (agent code runs in the
         * sandbox function): 512 MB is plenty; give it more only with AGENT_RUNTIMES_ALLOWED=thread
         */
        memoryMb: z.number().int().min(256).max(10_240).default(512),
        /** Lambda timeout of one run (an agent's timeoutSeconds plus load grace must fit) */
        timeoutSeconds: z.number().int().min(30).max(900).default(900),
        /** most runner invocations at once (SQS event source maximum concurrency) */
        maxConcurrency: z.number().int().min(2).max(1000).default(50),
      })
      .strict()
      .default({ memoryMb: 512, timeoutSeconds: 900, maxConcurrency: 50 }),
    /**
     * The sandbox function (the `lambda` runtime): where agent code runs and bundles are inspected.
     * Its timeout follows the runner's (a run cannot outlast the runner that waits for it).
     */
    sandbox: z
      .object({
        /** Lambda memory of one agent run: the agent's heap (AGENT_RUN_MEMORY_MB) plus ~100 MB of Node */
        memoryMb: z.number().int().min(256).max(10_240).default(1024),
      })
      .strict()
      .default({ memoryMb: 1024 }),
    /** pass-through of shared/core/config.ts knobs (validated with the functions' own schema) */
    agentEnv: z.partialRecord(z.enum(AGENT_ENV_KEYS), z.string()).default({}),
    /** X-Ray active tracing on every function (off by default: it is billed per trace) */
    tracing: z.boolean().default(false),
    /** keep the tables and the hot-directory bucket when the stack is deleted */
    retainData: z.boolean().default(true),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    /** the Kafka bridge; absent: no Kafka resources at all */
    kafka: KafkaPropsSchema.optional(),
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
  'sandboxMemoryMb',
  'tracing',
  'retainData',
  'logLevel',
  'kafkaBrokers',
  'kafkaInbound',
  'kafkaOutbound',
  'kafkaGroup',
  'kafkaMskClusterArn',
  'kafkaSubnetIds',
  'kafkaSecurityGroupIds',
  'kafkaAuth',
  'kafkaSecretArn',
  'kafkaTls',
  'kafkaStartingPosition',
  'kafkaBatchSize',
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
  const badComponents = disabled.filter((c) => !(ALL_COMPONENT_NAMES as readonly string[]).includes(c));
  if (badComponents.length) {
    throw new InfraConfigError(`-c disable: unknown component(s) ${badComponents.join(', ')}; one of ${ALL_COMPONENT_NAMES.join(', ')}`);
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
  const kafka = kafkaFromContext(get);
  const defined = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const props: OrchestratorPropsInput = defined({
    trustedPublicKeys: keys.length ? keys : undefined,
    allowUnsignedBundles: bool('allowUnsignedBundles', get('allowUnsignedBundles')),
    components: Object.fromEntries(ALL_COMPONENT_NAMES.map((c) => [c, !disabled.includes(c)])),
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
    sandbox: defined({
      memoryMb: int('sandboxMemoryMb', get('sandboxMemoryMb')),
    }),
    agentEnv,
    tracing: bool('tracing', get('tracing')),
    retainData: bool('retainData', get('retainData')),
    logLevel: get('logLevel'),
    kafka,
  }) as OrchestratorPropsInput;
  return { stackName, props };
}

/**
 * The Kafka bridge's context: `-c kafkaBrokers=... -c kafkaInbound=... -c kafkaOutbound=...
 * -c kafkaGroup=...` in the same formats as local mode's KAFKA_* env (parsed by the same code),
 * plus the cloud's own settings. No kafka* key: undefined (no bridge).
 */
function kafkaFromContext(get: (k: ContextKey) => string | undefined): z.input<typeof KafkaPropsSchema> | undefined {
  const keys = CONTEXT_KEYS.filter((k) => k.startsWith('kafka') && get(k) !== undefined);
  if (keys.length === 0) return undefined;
  const parsed = <T>(key: ContextKey, fn: (v: string | undefined) => T): T => {
    try {
      return fn(get(key));
    } catch (e) {
      throw new InfraConfigError(`-c ${key}: ${e instanceof OrchestratorError ? e.message.replace(/^KAFKA_[A-Z]+: /, '') : String(e)}`);
    }
  };
  const vpcGiven = get('kafkaSubnetIds') !== undefined || get('kafkaSecurityGroupIds') !== undefined;
  const batch = get('kafkaBatchSize');
  const out: z.input<typeof KafkaPropsSchema> = {
    brokers: parsed('kafkaBrokers', parseBrokers),
    inbound: parsed('kafkaInbound', parseInbound),
    outbound: parsed('kafkaOutbound', parseOutbound),
  };
  if (get('kafkaGroup') !== undefined) out.group = get('kafkaGroup');
  if (get('kafkaMskClusterArn') !== undefined) out.mskClusterArn = get('kafkaMskClusterArn');
  if (vpcGiven) out.vpc = { subnetIds: list(get('kafkaSubnetIds')) ?? [], securityGroupIds: list(get('kafkaSecurityGroupIds')) ?? [] };
  if (get('kafkaAuth') !== undefined) out.auth = get('kafkaAuth') as (typeof KAFKA_AUTH)[number];
  if (get('kafkaSecretArn') !== undefined) out.secretArn = get('kafkaSecretArn');
  if (get('kafkaTls') !== undefined) out.tls = bool('kafkaTls', get('kafkaTls'));
  if (get('kafkaStartingPosition') !== undefined) out.startingPosition = get('kafkaStartingPosition') as 'TRIM_HORIZON' | 'LATEST';
  if (batch !== undefined) out.batchSize = int('kafkaBatchSize', batch);
  return out;
}
