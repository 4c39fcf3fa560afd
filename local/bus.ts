/**
 * LocalBus: local mode's EventBridge (the `agents` custom bus and, for the S3 events of the hot
 * directory, the default bus). It is the EventPublisher of local mode.
 *
 * - It applies the RULES of shared/definitions/routing.ts (the same definitions the CDK stack
 *   installs) with our EventBridge pattern matcher (shared/core/bus/pattern.ts).
 * - `publish` wraps each envelope exactly as PutEvents would deliver it (version, id,
 *   detail-type = topic, source = agent-orchestrator, account, time, region, resources, detail =
 *   the envelope after a JSON round trip) and refuses what PutEvents would refuse (invalid
 *   envelope, entry over 256 KB) before accepting anything. Like PutEvents it returns once the
 *   events are accepted, not when they are delivered.
 * - Delivery: one queue per target, in order, one delivery at a time (different targets
 *   independently) unless `concurrency` lets a target take several at once, as the cloud's
 *   EventBridge → Lambda deliveries do (each event its own asynchronous invocation). The targets the cloud feeds through an SQS queue get what the queue
 *   hands their Lambda: an SQS event whose records' bodies are the EventBridge events — the
 *   Ledger rule's ledger writer up to `ledgerBatchSize` (default 10, the cloud FIFO queue's batch;
 *   local mode passes a whole ledger block, MAX_BLOCK_ENTRIES), the
 *   KafkaOutbound rule's producer up to `kafkaBatchSize` (100). Every other target gets the
 *   EventBridge event itself (EventBridge → Lambda).
 * - A target that throws is retried with exponential backoff (from `retryBaseMs`, doubling, at
 *   most `retryMaxDelayMs`) for `retryForMs` (default 2 minutes; EventBridge's retry policy) or,
 *   for the Ledger rule, `fifoRetryForMs` (default 10 minutes; the FIFO queue's redeliveries), so
 *   an emulator restart or a short outage loses nothing. The queued rules (Ledger, KafkaOutbound)
 *   retry in place and hold back the events behind them (in order); other rules retry in the
 *   background while later events go on. When the time (or `maxAttempts`) runs out the delivery
 *   is counted as failed, logged and kept in `deadLetters` (bounded). A target's error never
 *   crashes the process.
 * - `setRuleEnabled(id, false)`: events matching a disabled rule are not delivered, as with a
 *   disabled EventBridge rule (dropped and counted), except for the Delivery rule (component
 *   `bus`) and the KafkaOutbound rule (component `kafka`, whose cloud counterpart is a queue whose
 *   event source mapping is disabled): their events are buffered (up to `maxBuffered`, oldest
 *   dropped beyond) and delivered in order when the rule is enabled again, so stopping the
 *   component pauses deliveries without losing them. Deliveries already queued when a rule is disabled still happen.
 * - `idle()` resolves when everything published so far (and whatever the targets published
 *   meanwhile) has been delivered; `stats()` has the counters for metrics.
 */
import { createHash, randomUUID } from 'node:crypto';
import { resolvePattern, type RuleDef, type TargetName } from '../shared/definitions/routing';
import { compilePattern, type CompiledPattern } from '../shared/core/bus/pattern';
import { planPutEvents, toBusEvent, type BusEvent } from '../shared/core/bus/events';
import { parseEnvelope, type Envelope } from '../shared/core/envelope';
import type { EventPublisher } from '../shared/core/ports';
import { systemClock, type Clock } from '../shared/core/clock';
import { ValidationError, errorMessage } from '../shared/core/errors';
import { silentLogger, type Logger } from '../shared/core/logger';

/**
 * A rule target: receives an EventBridge event (BusEvent), or for the Ledger rule an SQS event
 * (SqsBatchEvent). Handlers take `unknown` and parse it with zod, hence the loose parameter.
 */
export type LocalTarget = (event: never) => Promise<unknown>;

export interface SqsBatchEvent {
  Records: {
    messageId: string;
    receiptHandle: string;
    body: string;
    attributes: {
      ApproximateReceiveCount: string;
      SentTimestamp: string;
      MessageGroupId: string;
      MessageDeduplicationId: string;
      SequenceNumber: string;
    };
    messageAttributes: Record<string, never>;
    md5OfBody: string;
    eventSource: 'aws:sqs';
    eventSourceARN: string;
    awsRegion: string;
  }[];
}

export interface LocalBusOptions {
  rules: RuleDef[];
  vars: { HOT_BUCKET: string };
  targets: Partial<Record<TargetName, LocalTarget>>;
  logger?: Logger;
  clock?: Clock;
  account?: string;
  region?: string;
  /** deliveries per event and target, the first included (default: no limit but the time) */
  maxAttempts?: number;
  /** first retry delay, doubling per attempt (default 100 ms) */
  retryBaseMs?: number;
  /** longest retry delay (default 5 s) */
  retryMaxDelayMs?: number;
  /** how long a failing delivery is retried (default 120 s) */
  retryForMs?: number;
  /** the same for the Ledger rule's FIFO deliveries (default 600 s) */
  fifoRetryForMs?: number;
  /**
   * records per SQS batch to the Ledger rule's target (default 10, the cloud's SQS FIFO batch
   * maximum; a larger value only changes how many envelopes one local append commits at once)
   */
  ledgerBatchSize?: number;
  /**
   * Group commit of the ledger: a Ledger batch smaller than `ledgerBatchSize` waits until this
   * long after the previous Ledger delivery started (default 0: no wait), so that under load one
   * append carries many envelopes instead of one each. Adds at most this much to an envelope's
   * way into the ledger; deliveries to agents (the Delivery rule) never wait for it.
   */
  ledgerLingerMs?: number;
  /** records per SQS batch to the KafkaOutbound rule's target (default 100, the cloud's batch size) */
  kafkaBatchSize?: number;
  /** events the Delivery rule buffers while disabled (default 100 000) */
  maxBuffered?: number;
  /** failed deliveries kept for inspection (default 100) */
  maxDeadLetters?: number;
  /**
   * deliveries in flight at once per target (default 1: one at a time, in order). For targets
   * the cloud invokes concurrently and that do not depend on order (the health monitor: each
   * agent.failed is judged on its own, a concurrent decision on the same agent loses on the
   * registry's generation condition). Not for the queued rules' targets, whose order is kept.
   */
  concurrency?: Partial<Record<TargetName, number>>;
}

/** Rules whose cloud target sits behind an SQS queue (batched SQS events, retried in place, in order). */
const QUEUED_RULES: ReadonlySet<RuleDef['id']> = new Set(['Ledger', 'KafkaOutbound']);
/** Rules that buffer while disabled instead of dropping. */
const BUFFERING_RULES: ReadonlySet<RuleDef['id']> = new Set(['Delivery', 'KafkaOutbound']);

interface RuleState {
  def: RuleDef;
  pattern: CompiledPattern;
  enabled: boolean;
  buffer: BusEvent[];
}

interface Delivery {
  rule: RuleState;
  event: BusEvent;
  sentAt: number;
  /** deliveries tried so far, and when the first was (background retries of non-FIFO rules) */
  attempts: number;
  firstTriedAt: number | null;
}

interface TargetQueue {
  name: TargetName;
  items: Delivery[];
  /** deliveries at most in flight at once */
  limit: number;
  workers: Set<Promise<void>>;
}

/** counters per rule: the rules of RULES always, the Kafka bridge's rule only where the bus has it */
type PerRule = Record<Exclude<RuleDef['id'], 'KafkaOutbound'>, number> & Partial<Record<'KafkaOutbound', number>>;

export type LocalBusStats = {
  /** envelopes accepted by publish */
  published: number;
  /** events accepted by putDefaultBusEvent */
  defaultBusEvents: number;
  matched: PerRule;
  delivered: PerRule;
  failed: PerRule;
  retried: PerRule;
  /** matched while the rule was disabled and not buffered */
  dropped: PerRule;
  /** matched but no local target is wired for the rule */
  undeliverable: PerRule;
  /** currently buffered (disabled buffering rule) */
  buffered: PerRule;
  /** currently queued per target */
  queued: Record<string, number>;
};

export interface DeadLetter {
  rule: RuleDef['id'];
  target: TargetName;
  eventId: string;
  error: string;
  at: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const zero = (rules: readonly { def: RuleDef }[]): PerRule => ({
  HotDirectory: 0,
  Ledger: 0,
  Delivery: 0,
  Health: 0,
  ...(rules.some((r) => r.def.id === 'KafkaOutbound') ? { KafkaOutbound: 0 } : {}),
});
const add = (m: PerRule, id: RuleDef['id'], n = 1): void => {
  m[id] = (m[id] ?? 0) + n;
};

export class LocalBus implements EventPublisher {
  private readonly rules: RuleState[];
  private readonly queues = new Map<TargetName, TargetQueue>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly account: string;
  private readonly region: string;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly retryForMs: number;
  private readonly fifoRetryForMs: number;
  private readonly retrying = new Set<Promise<void>>();
  private readonly ledgerBatchSize: number;
  private readonly kafkaBatchSize: number;
  private readonly ledgerLingerMs: number;
  private lastLedgerDelivery = Number.NEGATIVE_INFINITY;
  private readonly maxBuffered: number;
  private readonly maxDeadLetters: number;
  private readonly listeners = new Set<(e: BusEvent<Envelope>) => void>();
  private fifoSeq = 0n;
  private readonly counters: {
    published: number;
    defaultBusEvents: number;
    matched: PerRule;
    delivered: PerRule;
    failed: PerRule;
    retried: PerRule;
    dropped: PerRule;
    undeliverable: PerRule;
  };
  readonly deadLetters: DeadLetter[] = [];

  constructor(private readonly opts: LocalBusOptions) {
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.account = opts.account ?? '000000000000';
    this.region = opts.region ?? 'us-east-1';
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? Number.POSITIVE_INFINITY);
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.retryMaxDelayMs = opts.retryMaxDelayMs ?? 5_000;
    this.retryForMs = opts.retryForMs ?? 120_000;
    this.fifoRetryForMs = opts.fifoRetryForMs ?? 600_000;
    this.ledgerBatchSize = Math.max(1, opts.ledgerBatchSize ?? 10);
    this.kafkaBatchSize = Math.max(1, opts.kafkaBatchSize ?? 100);
    this.ledgerLingerMs = Math.max(0, opts.ledgerLingerMs ?? 0);
    this.maxBuffered = opts.maxBuffered ?? 100_000;
    this.maxDeadLetters = opts.maxDeadLetters ?? 100;
    for (const [target, n] of Object.entries(opts.concurrency ?? {})) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency of ${target} must be a positive integer, got ${n}`);
      if (n > 1 && opts.rules.some((r) => r.target === target && QUEUED_RULES.has(r.id)))
        throw new RangeError(`concurrency of ${target}: the target of a queued rule is delivered in order, one batch at a time`);
    }
    // compiling validates every pattern at start-up (InvalidPatternError names the fault)
    this.rules = opts.rules.map((def) => ({
      def,
      pattern: compilePattern(resolvePattern(def.pattern, opts.vars)),
      enabled: true,
      buffer: [],
    }));
    const z = () => zero(this.rules);
    this.counters = {
      published: 0,
      defaultBusEvents: 0,
      matched: z(),
      delivered: z(),
      failed: z(),
      retried: z(),
      dropped: z(),
      undeliverable: z(),
    };
  }

  // ------------------------------------------------------------------------------------------
  // input

  /** PutEvents on the `agents` bus. Validates everything first: a refused batch changes nothing. */
  async publish(envelopes: Envelope[]): Promise<void> {
    const valid = envelopes.map((e) => parseEnvelope(e));
    const groups = planPutEvents(valid); // size limits of PutEvents entries
    const now = this.clock.now();
    for (const group of groups) {
      for (const { entry } of group) {
        const event = toBusEvent(
          { source: entry.Source, detailType: entry.DetailType, detail: JSON.parse(entry.Detail) as Envelope },
          { now, account: this.account, region: this.region },
        );
        this.counters.published++;
        for (const l of this.listeners) {
          try {
            l(event);
          } catch (e) {
            this.log.warn('bus listener failed', { error: e });
          }
        }
        this.route('agents', event);
      }
    }
  }

  /** An event on the account's default bus (S3 "Object Created"/"Object Deleted" from s3rver). */
  putDefaultBusEvent(event: BusEvent): void {
    this.counters.defaultBusEvents++;
    this.route('default', event);
  }

  /** Observes every envelope event put on the agents bus (e.g. the API's event stream). */
  subscribe(listener: (e: BusEvent<Envelope>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private route(bus: RuleDef['bus'], event: BusEvent): void {
    for (const rule of this.rules) {
      if (rule.def.bus !== bus || !rule.pattern.matches(event)) continue;
      add(this.counters.matched, rule.def.id);
      if (!this.opts.targets[rule.def.target]) {
        add(this.counters.undeliverable, rule.def.id);
        continue;
      }
      if (!rule.enabled) {
        if (BUFFERING_RULES.has(rule.def.id)) {
          rule.buffer.push(event);
          if (rule.buffer.length > this.maxBuffered) {
            rule.buffer.shift();
            add(this.counters.dropped, rule.def.id);
          }
        } else {
          add(this.counters.dropped, rule.def.id);
        }
        continue;
      }
      this.enqueue(rule, event);
    }
  }

  // ------------------------------------------------------------------------------------------
  // rule switches

  setRuleEnabled(id: RuleDef['id'], enabled: boolean): void {
    const rule = this.rules.find((r) => r.def.id === id);
    if (!rule) throw new ValidationError(`unknown bus rule ${String(id)}; one of ${this.rules.map((r) => r.def.id).join(', ')}`);
    if (rule.enabled === enabled) return;
    rule.enabled = enabled;
    this.log.info(enabled ? 'bus rule enabled' : 'bus rule disabled', { rule: id, buffered: rule.buffer.length });
    if (enabled) for (const ev of rule.buffer.splice(0)) this.enqueue(rule, ev);
  }

  isRuleEnabled(id: RuleDef['id']): boolean {
    return this.rules.find((r) => r.def.id === id)?.enabled ?? false;
  }

  /** A switch for local/components.ts (`LocalSwitchTargets.rule`). */
  ruleSwitch(id: RuleDef['id']): { setEnabled(enabled: boolean): void; isEnabled(): boolean } {
    return { setEnabled: (on) => this.setRuleEnabled(id, on), isEnabled: () => this.isRuleEnabled(id) };
  }

  // ------------------------------------------------------------------------------------------
  // delivery

  private enqueue(rule: RuleState, event: BusEvent): void {
    const q = this.queue(rule.def.target);
    q.items.push({ rule, event, sentAt: this.clock.now(), attempts: 0, firstTriedAt: null });
    this.run(q);
  }

  private queue(name: TargetName): TargetQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = { name, items: [], limit: this.opts.concurrency?.[name] ?? 1, workers: new Set() };
      this.queues.set(name, q);
    }
    return q;
  }

  private run(q: TargetQueue): void {
    while (q.workers.size < q.limit && q.workers.size < q.items.length) {
      const w: Promise<void> = this.drain(q).finally(() => {
        q.workers.delete(w);
        // an event enqueued between the loop's end and this callback found the worker still counted
        if (q.items.length > 0) this.run(q);
      });
      q.workers.add(w);
    }
  }

  private async drain(q: TargetQueue): Promise<void> {
    // start after run() has counted this worker, so it spawns one per waiting item up to the limit
    await Promise.resolve();
    while (q.items.length > 0) {
      const first = q.items[0]!;
      if (first.rule.def.id === 'Ledger' && this.ledgerLingerMs > 0) {
        const wait = this.lastLedgerDelivery + this.ledgerLingerMs - performance.now();
        if (wait > 0 && this.count(q, first.rule) < this.ledgerBatchSize) await sleep(wait);
        this.lastLedgerDelivery = performance.now();
      }
      let n = 1;
      if (QUEUED_RULES.has(first.rule.def.id)) {
        const max = first.rule.def.id === 'Ledger' ? this.ledgerBatchSize : this.kafkaBatchSize;
        while (n < max && n < q.items.length && q.items[n]!.rule === first.rule) n++;
      }
      await this.deliver(q.name, q.items.splice(0, n));
    }
  }

  /** leading items of the queue that belong to `rule` */
  private count(q: TargetQueue, rule: RuleState): number {
    let n = 0;
    while (n < q.items.length && q.items[n]!.rule === rule) n++;
    return n;
  }

  private shape(batch: Delivery[], attempt: number): unknown {
    const first = batch[0]!;
    if (!QUEUED_RULES.has(first.rule.def.id)) return structuredClone(first.event);
    const records: SqsBatchEvent['Records'] = batch.map((d) => {
      const body = JSON.stringify(d.event);
      this.fifoSeq++;
      return {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body,
        attributes: {
          ApproximateReceiveCount: String(attempt),
          SentTimestamp: String(d.sentAt),
          MessageGroupId: d.rule.def.id.toLowerCase(),
          MessageDeduplicationId: d.event.id,
          SequenceNumber: this.fifoSeq.toString().padStart(20, '0'),
        },
        messageAttributes: {},
        md5OfBody: createHash('md5').update(body).digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${this.region}:${this.account}:${d.rule.def.id.toLowerCase()}${d.rule.def.id === 'Ledger' ? '.fifo' : ''}`,
        awsRegion: this.region,
      };
    });
    return { Records: records } satisfies SqsBatchEvent;
  }

  private retryDelay(attempt: number): number {
    return Math.min(this.retryMaxDelayMs, this.retryBaseMs * 2 ** (attempt - 1));
  }

  private giveUp(target: TargetName, batch: Delivery[], attempts: number, e: unknown): void {
    const rule = batch[0]!.rule.def.id;
    add(this.counters.failed, rule, batch.length);
    this.log.error('bus delivery failed; giving up', { rule, target, events: batch.length, attempts, error: e });
    for (const d of batch) {
      this.deadLetters.push({ rule, target, eventId: d.event.id, error: errorMessage(e), at: this.clock.now() });
      if (this.deadLetters.length > this.maxDeadLetters) this.deadLetters.shift();
    }
  }

  private async deliver(target: TargetName, batch: Delivery[]): Promise<void> {
    const fn = this.opts.targets[target];
    const rule = batch[0]!.rule.def.id;
    if (!fn) {
      add(this.counters.undeliverable, rule, batch.length);
      return;
    }
    if (QUEUED_RULES.has(rule)) {
      // queued: retried in place; the events behind it wait (in order)
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await fn(this.shape(batch, attempt) as never);
          add(this.counters.delivered, rule, batch.length);
          return;
        } catch (e) {
          if (attempt >= this.maxAttempts || Date.now() - started >= this.fifoRetryForMs) return this.giveUp(target, batch, attempt, e);
          add(this.counters.retried, rule, batch.length);
          this.log.warn('bus delivery failed; retrying', { rule, target, attempt, error: e });
          await sleep(this.retryDelay(attempt));
        }
      }
    }
    // one event: a failure is retried in the background, later events go on
    const d = batch[0]!;
    d.attempts++;
    d.firstTriedAt ??= Date.now();
    try {
      await fn(this.shape(batch, d.attempts) as never);
      add(this.counters.delivered, rule);
    } catch (e) {
      if (d.attempts >= this.maxAttempts || Date.now() - d.firstTriedAt >= this.retryForMs)
        return this.giveUp(target, batch, d.attempts, e);
      add(this.counters.retried, rule);
      this.log.warn('bus delivery failed; retrying', { rule, target, attempt: d.attempts, error: e });
      const retry: Promise<void> = sleep(this.retryDelay(d.attempts)).then(() => {
        this.retrying.delete(retry);
        const q = this.queue(target);
        q.items.push(d);
        this.run(q);
      });
      this.retrying.add(retry);
    }
  }

  /** Resolves when every accepted event has been delivered (or given up on). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.queues.values()].flatMap((q) => [...q.workers]);
      if (running.length === 0 && this.retrying.size === 0) return;
      await Promise.all([...running, ...this.retrying]);
    }
  }

  stats(): LocalBusStats {
    const buffered = zero(this.rules);
    for (const r of this.rules) buffered[r.def.id] = r.buffer.length;
    const queued: Record<string, number> = {};
    for (const q of this.queues.values()) queued[q.name] = q.items.length;
    const c = this.counters;
    return {
      published: c.published,
      defaultBusEvents: c.defaultBusEvents,
      matched: { ...c.matched },
      delivered: { ...c.delivered },
      failed: { ...c.failed },
      retried: { ...c.retried },
      dropped: { ...c.dropped },
      undeliverable: { ...c.undeliverable },
      buffered,
      queued,
    };
  }
}
