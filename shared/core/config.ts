/** Environment configuration, validated with zod at start-up (Lambda init or local boot). */
import { z } from 'zod';
import { DEFAULT_SCHEDULE_SHARDS } from '../definitions/tables';
import { ConfigError } from './errors';
import { parseTrustedKeys, type TrustedKey } from './bundle/signing';
import { RUNTIME_NAMES, type RuntimeName } from './registry';
import { KafkaEnvSchema, parseKafkaConfig, type KafkaConfig } from './kafka/config';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

export const EnvSchema = z.object({
  AGENT_BUNDLE_PUBKEYS: z.string().optional(),
  AGENT_WHEEL_PUBKEY: z.string().optional(),
  AGENT_VERIFIER: z.enum(['node', 'noble']).default('node'),
  AGENT_MAX_BUNDLE_BYTES: int(5 * 1024 * 1024, 1),
  AGENT_ERR_THRESHOLD: int(3, 1),
  AGENT_MAX_RESTARTS: int(3, 0),
  AGENT_RESTART_WINDOW_SECONDS: int(600, 1),
  AGENT_RESTART_BACKOFF_BASE_SECONDS: int(5, 0),
  AGENT_RESTART_BACKOFF_MAX_SECONDS: int(300, 0),
  AGENT_STUCK_GRACE_SECONDS: int(30, 0),
  AGENT_LEDGER_RETENTION_DAYS: int(0, 0),
  /** write sharding of the sparse `due` and `expect` GSIs (see shared/definitions/tables.ts) */
  AGENT_SCHEDULE_SHARDS: int(DEFAULT_SCHEDULE_SHARDS, 1),
  /** V8 heap limit of an agent's run (its process, worker thread or sandbox function) */
  AGENT_RUN_MEMORY_MB: int(256, 16),
  /** where agent code runs: `process` (local default), `thread` (trusted code only), `lambda` (cloud default) */
  AGENT_RUNTIME: z.enum(RUNTIME_NAMES).optional(),
  /** the runtimes a bundle may ask for (its `runtime`), comma-separated; default: only AGENT_RUNTIME */
  AGENT_RUNTIMES_ALLOWED: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s?.trim()) return undefined;
      const list = s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const bad = list.filter((x) => !(RUNTIME_NAMES as readonly string[]).includes(x));
      if (bad.length) ctx.addIssue({ code: 'custom', message: `unknown runtime(s) ${bad.join(', ')}; one of ${RUNTIME_NAMES.join(', ')}` });
      return list as RuntimeName[];
    }),
  /** agent processes kept warm at most (local `process` runtime) */
  AGENT_RUNTIME_PROCESSES: int(32, 1),
  /** the sandbox function the `lambda` runtime invokes (cloud) */
  SANDBOX_FUNCTION: z.string().min(1).optional(),
  /** SQS dispatch queue (cloud); local mode dispatches to its runner pool instead */
  DISPATCH_QUEUE_URL: z.string().url().optional(),
  REGISTRY_TABLE: z.string().min(1).default('agent-registry'),
  HEARTBEAT_TABLE: z.string().min(1).default('agent-heartbeats'),
  LEDGER_TABLE: z.string().min(1).default('agent-ledger'),
  HOT_BUCKET: z.string().min(1).default('agent-hot-directory'),
  EVENT_BUS_NAME: z.string().min(1).default('agent-bus'),
  /** S3 bucket (Object Lock) of the ledger digests (cloud); local mode keeps them in a file of its data dir */
  LEDGER_DIGEST_BUCKET: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** `/metrics` per-agent series: `true`, `false` (aggregates only), `auto` (per agent up to METRICS_PER_AGENT_MAX agents) */
  METRICS_PER_AGENT: z.enum(['auto', 'true', 'false']).default('auto'),
  /** the Kafka bridge (shared/core/kafka/config.ts, docs/kafka.md): absent unless configured */
  ...KafkaEnvSchema.shape,
});
export type Env = z.infer<typeof EnvSchema>;

export interface Config extends Env {
  trustedKeys: TrustedKey[];
  /** the Kafka bridge's configuration; null: no bridge (no KAFKA_* mapping set) */
  kafka: KafkaConfig | null;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const r = EnvSchema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid environment: ${z.prettifyError(r.error)}`);
  let trustedKeys: TrustedKey[];
  try {
    trustedKeys = parseTrustedKeys(r.data.AGENT_BUNDLE_PUBKEYS, r.data.AGENT_WHEEL_PUBKEY);
  } catch (e) {
    throw new ConfigError(`AGENT_BUNDLE_PUBKEYS: ${(e as Error).message}`);
  }
  return { ...r.data, trustedKeys, kafka: parseKafkaConfig(env) };
}

/** What a Lambda function's environment must name (the CDK stack sets all of them on every function). */
export type FunctionEnvName =
  | 'REGISTRY_TABLE'
  | 'HEARTBEAT_TABLE'
  | 'LEDGER_TABLE'
  | 'HOT_BUCKET'
  | 'EVENT_BUS_NAME'
  | 'DISPATCH_QUEUE_URL'
  | 'KAFKA_BROKERS'
  | 'KAFKA_INBOUND'
  | 'KAFKA_OUTBOUND'
  | 'LEDGER_DIGEST_BUCKET';

/**
 * The configuration of a Lambda function. The resources it uses must be named by its
 * environment: loadConfig's defaults are local mode's names, and a function running on them in
 * the cloud would fail later and less clearly (on a table or bucket that does not exist). A
 * missing one is a ConfigError naming the function and the variables.
 */
export function loadFunctionConfig<K extends FunctionEnvName>(
  fn: string,
  required: readonly K[],
  env: Record<string, string | undefined> = process.env,
): Config & { [P in K]-?: NonNullable<Config[P]> } {
  const missing = required.filter((k) => !env[k]?.trim());
  if (missing.length > 0) {
    throw new ConfigError(
      `${fn}: missing required environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the CDK stack sets them)`,
      { missing },
    );
  }
  return loadConfig(env) as Config & { [P in K]-?: NonNullable<Config[P]> };
}
