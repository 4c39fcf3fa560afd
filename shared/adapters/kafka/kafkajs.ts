/**
 * The Kafka client adapters, on KafkaJS (docs/kafka.md says why KafkaJS):
 *
 * - KafkaJsProducer (port KafkaProducer): an idempotent producer (acks from all in-sync replicas,
 *   one request in flight per broker, so the broker de-duplicates the producer's own retries),
 *   connected on first use. A send that fails drops the producer (its sequence numbers are no
 *   longer trusted); the next send starts a new one, so a retried batch may be written twice:
 *   at-least-once.
 * - KafkaJsConsumer (port KafkaConsumer, local mode): a consumer-group member reading the mapped
 *   topics (a new group starts at the earliest offset), handing each fetched batch to the bridge
 *   and resolving (then committing) its offsets only once the batch was handed over. Stopping
 *   leaves the group after committing; records not handed over are read again later, by this
 *   member or another.
 *
 * KafkaJS's own log lines go to our logger (component `kafkajs`), its errors as warnings: it logs
 * expected events of a group (rebalances) as errors and retries real ones itself.
 */
import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type KafkaConfig as KafkaJsConfig,
  type KafkaMessage,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { SaslMechanism } from '../../core/kafka/config';
import { KafkaConsumeError, KafkaProduceError } from '../../core/kafka/errors';
import { errorMessage, isRetryable } from '../../core/errors';
import { silentLogger, type Logger } from '../../core/logger';
import type { KafkaConsumer, KafkaProducer, KafkaRecordIn, KafkaRecordOut } from '../../core/ports';

/** How to reach the cluster (credentials resolved: see KafkaSasl's secret in the cloud). */
export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl: { mechanism: SaslMechanism; username: string; password: string } | null;
  /** ms to wait for a broker connection (default 10 s) */
  connectionTimeoutMs?: number;
}

export function kafkaJsConfig(c: KafkaConnection, logger: Logger): KafkaJsConfig {
  const log = logger.child({ component: 'kafkajs' });
  return {
    clientId: c.clientId,
    brokers: c.brokers,
    ssl: c.ssl,
    ...(c.sasl ? { sasl: { mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } as SASLOptions } : {}),
    connectionTimeout: c.connectionTimeoutMs ?? 10_000,
    logLevel: logLevel.INFO,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...fields } = entry;
        if (level === logLevel.ERROR || level === logLevel.WARN) log.warn(message, fields);
        else log.debug(message, fields);
      },
  };
}

const text = (b: Buffer | null | undefined): Uint8Array | null => (b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null);

/** KafkaJS's message → the bridge's record (header values as UTF-8 text; a repeated header keeps the last). */
export function toRecordIn(topic: string, partition: number, m: KafkaMessage): KafkaRecordIn {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) headers[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  const ts = Number(m.timestamp);
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number.isFinite(ts) && ts >= 0 ? ts : null,
    key: text(m.key),
    value: text(m.value),
    headers,
  };
}

export interface KafkaJsProducerOptions {
  /** the connection, resolved when the producer first connects (a secret is read then) */
  connection: () => Promise<KafkaConnection>;
  logger?: Logger;
  /** ms one send may take, its own retries included (default 30 s) */
  sendTimeoutMs?: number;
}

export class KafkaJsProducer implements KafkaProducer {
  private producer: Promise<Producer> | null = null;
  private readonly log: Logger;

  constructor(private readonly o: KafkaJsProducerOptions) {
    this.log = o.logger ?? silentLogger;
  }

  private connected(): Promise<Producer> {
    this.producer ??= (async () => {
      const kafka = new Kafka(kafkaJsConfig(await this.o.connection(), this.log));
      const p = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        // bounded, so a send fails (and is retried by whoever called) instead of hanging while
        // Kafka is away; KafkaJS warns that this "may invalidate EoS guarantees": we promise
        // at-least-once to Kafka, not exactly-once
        retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
      });
      await p.connect();
      return p;
    })();
    this.producer.catch(() => {
      this.producer = null;
    });
    return this.producer;
  }

  async send(records: KafkaRecordOut[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, KafkaRecordOut[]>();
    for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    let producer: Producer;
    try {
      producer = await this.connected();
    } catch (e) {
      throw new KafkaProduceError(`cannot connect the Kafka producer: ${errorMessage(e)}`, {}, { cause: e });
    }
    try {
      await producer.sendBatch({
        acks: -1,
        timeout: this.o.sendTimeoutMs ?? 30_000,
        topicMessages: [...byTopic].map(([topic, recs]) => ({
          topic,
          messages: recs.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        })),
      });
    } catch (e) {
      // its sequence numbers may be out of step with the brokers now: start afresh next time
      this.producer = null;
      void producer.disconnect().catch(() => undefined);
      throw new KafkaProduceError(
        `Kafka did not acknowledge ${records.length} record(s): ${errorMessage(e)}`,
        { records: records.length },
        { cause: e },
      );
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (!p) return;
    try {
      await (await p).disconnect();
    } catch (e) {
      this.log.warn('kafka producer did not disconnect cleanly', { error: errorMessage(e) });
    }
  }
}

export interface KafkaJsConsumerOptions {
  connection: () => Promise<KafkaConnection>;
  group: string;
  topics: string[];
  /** hands a batch over (to KafkaInbound.handle); its offsets are committed only after it resolves */
  onBatch: (records: KafkaRecordIn[]) => Promise<unknown>;
  logger?: Logger;
  /** session timeout of the group membership (default 30 s) */
  sessionTimeoutMs?: number;
  /** first delay of the in-place retry of a failed hand-over, doubling up to 5 s (default 200 ms) */
  retryBaseMs?: number;
}

export class KafkaJsConsumer implements KafkaConsumer {
  private consumer: Consumer | null = null;
  private running = false;
  private transition: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly o: KafkaJsConsumerOptions) {
    this.log = o.logger ?? silentLogger;
  }

  isRunning(): boolean {
    return this.running;
  }

  /** Joins the group and starts reading (the group assignment follows asynchronously). */
  start(): Promise<void> {
    this.transition = this.transition.then(() => this.doStart());
    return this.transition;
  }

  /** Commits what was handed over and leaves the group. */
  stop(): Promise<void> {
    this.transition = this.transition.then(
      () => this.doStop(),
      () => this.doStop(),
    );
    return this.transition;
  }

  private async doStart(): Promise<void> {
    if (this.running) return;
    const kafka = new Kafka(kafkaJsConfig(await this.o.connection(), this.log));
    const consumer = kafka.consumer({
      groupId: this.o.group,
      sessionTimeout: this.o.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 10_000 },
    });
    // KafkaJS restarts a member after retriable errors itself; a crash it does not restart from
    // leaves the component stopped (POST /components/kafka/start tries again)
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.consumer !== consumer) return;
      this.running = false;
      this.consumer = null;
      this.log.error('kafka consumer crashed; the component kafka is stopped', { error: payload.error });
      void consumer.disconnect().catch(() => undefined);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.o.topics, fromBeginning: true });
      this.running = true;
      this.consumer = consumer;
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.isEmpty() || !isRunning() || isStale()) return;
          const records = batch.messages.map((m) => toRecordIn(batch.topic, batch.partition, m));
          const handed = await this.handOver(records, () => isRunning() && !isStale(), heartbeat);
          // the last offset of the batch (control records included): committed after this returns
          if (handed) resolveOffset(batch.lastOffset());
          await heartbeat();
        },
      });
      this.log.info('kafka consumer started', { group: this.o.group, topics: this.o.topics });
    } catch (e) {
      this.running = false;
      this.consumer = null;
      await consumer.disconnect().catch(() => undefined);
      throw new KafkaConsumeError(`the Kafka consumer could not start: ${errorMessage(e)}`, { group: this.o.group }, { cause: e });
    }
  }

  /** Hands a batch over, retrying in place while the member still owns the partition. */
  private async handOver(records: KafkaRecordIn[], owned: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.onBatch(records);
        return true;
      } catch (e) {
        if (!isRetryable(e) || !owned()) {
          this.log.error('kafka batch not handed over; it will be read again', { attempt, records: records.length, error: e });
          if (!isRetryable(e)) throw e;
          return false;
        }
        this.log.warn('kafka batch hand-over failed; retrying', { attempt, records: records.length, error: errorMessage(e) });
        await new Promise((r) => setTimeout(r, Math.min(5_000, (this.o.retryBaseMs ?? 200) * 2 ** (attempt - 1))));
        await heartbeat().catch(() => undefined);
      }
    }
  }

  private async doStop(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    this.running = false;
    if (!c) return;
    try {
      await c.disconnect();
      this.log.info('kafka consumer stopped', { group: this.o.group });
    } catch (e) {
      this.log.warn('kafka consumer did not disconnect cleanly', { error: errorMessage(e) });
    }
  }
}
