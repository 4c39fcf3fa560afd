/**
 * Local "manager" component: feeds s3rver's object events, translated to the cloud's
 * EventBridge shape, to the same handler core the agent-manager Lambda uses. Events are handled
 * one at a time in arrival order. While stopped, events are not handled (as when the cloud rule
 * is disabled); starting the component runs a full rescan, which catches up.
 */
import type { EventEmitter } from 'node:events';
import type { AgentManager, ManagerOutcome } from '../shared/core/manager/service';
import type { Logger } from '../shared/core/logger';
import { handleManagerEvent } from '../functions/agent-manager/core';
import type { LocalComponent } from './component';
import type { S3NotificationRecord } from './emulators';
import { toEventBridge } from './s3-events';

export class LocalManagerComponent implements LocalComponent {
  readonly name = 'manager' as const;
  private running = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listener = (ev: { Records?: S3NotificationRecord[] }) => {
    if (!this.running) return;
    for (const rec of ev.Records ?? []) {
      const eb = toEventBridge(rec);
      if (eb) this.enqueue(() => handleManagerEvent(this.manager, eb, this.bucket));
    }
  };
  /** outcomes of every handled event, newest last (bounded), for diagnostics and tests */
  readonly outcomes: ManagerOutcome[] = [];

  constructor(
    private readonly manager: AgentManager,
    private readonly s3Events: EventEmitter,
    private readonly bucket: string,
    private readonly log: Logger,
  ) {}

  private enqueue(job: () => Promise<ManagerOutcome[]>): Promise<ManagerOutcome[]> {
    const next = this.chain.then(job).then(
      (outs) => {
        this.outcomes.push(...outs);
        if (this.outcomes.length > 1000) this.outcomes.splice(0, this.outcomes.length - 1000);
        return outs;
      },
      (e: unknown) => {
        this.log.error('manager event failed', { error: e });
        return [] as ManagerOutcome[];
      },
    );
    this.chain = next;
    return next;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.s3Events.on('event', this.listener);
    await this.rescan();
  }

  rescan(): Promise<ManagerOutcome[]> {
    return this.enqueue(() => this.manager.rescan());
  }

  /** Resolves when every event received so far has been handled. */
  async idle(): Promise<void> {
    await this.chain;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.s3Events.off('event', this.listener);
    await this.chain;
  }

  isRunning(): boolean {
    return this.running;
  }
}
