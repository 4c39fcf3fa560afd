/**
 * Counts AWS requests per service and operation with an SDK middleware (bench/cycles.ts uses it
 * to measure the requests of a steady-state cycle on the real adapters).
 *
 * - `count(client, service)`: counts every request the client sends. With `{ capacity: true }` on
 *   a DynamoDB client it also asks for ReturnConsumedCapacity=INDEXES and sums the read and
 *   write units DynamoDB reports (table and indexes), which is what on-demand pricing bills.
 * - `respond(client, service, fn)`: answers the client's requests itself, without sending them
 *   (for services with no local emulator: SQS, EventBridge), and counts them like `count`.
 */
interface Stack {
  add(mw: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>, opts: { step: 'initialize'; name: string; priority?: 'high' | 'low' }): void;
}
interface HasStack {
  middlewareStack: unknown;
}

interface CapacityEntry {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

const READ_OPS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'GetCommand', 'BatchGetCommand']);

export class RequestCounter {
  /** `service:Operation` → requests */
  readonly requests = new Map<string, number>();
  /** DynamoDB request units consumed (on-demand billing units) */
  readonly units = { read: 0, write: 0 };
  /** entries sent in EventBridge PutEvents requests (EventBridge bills per event) */
  eventEntries = 0;

  private bump(key: string): void {
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  reset(): void {
    this.requests.clear();
    this.units.read = 0;
    this.units.write = 0;
    this.eventEntries = 0;
  }

  total(prefix?: string): number {
    let n = 0;
    for (const [k, v] of this.requests) if (!prefix || k.startsWith(prefix)) n += v;
    return n;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.requests.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  count(client: HasStack, service: string, opts: { capacity?: boolean } = {}): void {
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const op = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.bump(`${service}:${op}`);
        const a = args as { input?: Record<string, unknown> };
        if (opts.capacity && a.input) a.input.ReturnConsumedCapacity = 'INDEXES';
        if (service === 'EventBridge' && Array.isArray(a.input?.Entries)) this.eventEntries += a.input.Entries.length;
        const out = (await next(args)) as { output?: { ConsumedCapacity?: CapacityEntry | CapacityEntry[] } };
        if (opts.capacity) this.addCapacity(context.commandName ?? '', out.output?.ConsumedCapacity);
        return out;
      },
      { step: 'initialize', name: `requestCounter-${service}`, priority: 'high' },
    );
  }

  respond(client: HasStack, service: string, fn: (operation: string, input: Record<string, unknown>) => unknown): void {
    (client.middlewareStack as Stack).add(
      (_next, context) => async (args) => {
        const op = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.bump(`${service}:${op}`);
        const input = (args as { input?: Record<string, unknown> }).input ?? {};
        if (service === 'EventBridge' && Array.isArray(input.Entries)) this.eventEntries += input.Entries.length;
        return { output: { $metadata: {}, ...(fn(op, input) as object) }, response: {} };
      },
      { step: 'initialize', name: `requestResponder-${service}`, priority: 'high' },
    );
  }

  private addCapacity(commandName: string, cc: CapacityEntry | CapacityEntry[] | undefined): void {
    for (const c of Array.isArray(cc) ? cc : cc ? [cc] : []) {
      if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
        this.units.read += c.ReadCapacityUnits ?? 0;
        this.units.write += c.WriteCapacityUnits ?? 0;
      } else if (READ_OPS.has(commandName)) this.units.read += c.CapacityUnits ?? 0;
      else this.units.write += c.CapacityUnits ?? 0;
    }
  }
}
