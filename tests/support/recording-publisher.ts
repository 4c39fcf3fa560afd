/** A port fake for EventPublisher: records what would go on the bus (no AWS call involved). */
import type { Envelope } from '../../shared/core/envelope';
import type { EventPublisher } from '../../shared/core/ports';

export class RecordingPublisher implements EventPublisher {
  readonly envelopes: Envelope[] = [];
  async publish(envelopes: Envelope[]): Promise<void> {
    this.envelopes.push(...envelopes);
  }
  topics(): string[] {
    return this.envelopes.map((e) => e.topic);
  }
  last(topic: string): Envelope | undefined {
    return [...this.envelopes].reverse().find((e) => e.topic === topic);
  }
}
