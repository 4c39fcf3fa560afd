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
  add(
    mw: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
    opts: { step: 'initialize'; name: string; priority?: 'high' | 'low' },
  ): void;
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

const TAGS = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/**
 * Size of a value as DynamoDB counts it (strings: UTF-8 bytes; numbers: ~1 byte per 2 digits + 1;
 * maps and lists: 3 + their members). Accepts the document client's plain values and the low-level
 * client's marshalled AttributeValues (`{S: "..."}`).
 */
export function valueSize(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint') return Math.ceil(String(v).replace(/^-/, '').length / 2) + 1;
  if (typeof v === 'boolean' || v === null || v === undefined) return 1;
  if (v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + 1 + valueSize(x), 0);
  const entries = Object.entries(v as Record<string, unknown>);
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only && TAGS.has(only[0])) {
    const [tag, inner] = only;
    if (tag === 'N' && typeof inner === 'string') return Math.ceil(inner.replace(/^-/, '').length / 2) + 1;
    if (tag === 'M') return 3 + itemSize(inner as Record<string, unknown>);
    return valueSize(inner);
  }
  return 3 + itemSize(v as Record<string, unknown>);
}

export function itemSize(item: Record<string, unknown> | undefined): number {
  return Object.entries(item ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
}

/** Write units of a TransactWriteItems request: 2 per item and started KB (updates, deletes and checks of our small items: 1 KB). */
export function transactWriteUnits(input: Record<string, unknown> | undefined): number {
  const items = (input?.TransactItems ?? []) as { Put?: { Item?: Record<string, unknown> } }[];
  return items.reduce((n, it) => n + 2 * Math.max(1, Math.ceil((it.Put ? itemSize(it.Put.Item) : 1024) / 1024)), 0);
}

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
        // DynamoDB Local reports 2 units for a whole TransactWriteItems call; DynamoDB bills 2 write
        // units per item and KB, so transactions are priced from the request itself
        if (opts.capacity && context.commandName === 'TransactWriteItemsCommand') this.units.write += transactWriteUnits(a.input);
        else if (opts.capacity) this.addCapacity(context.commandName ?? '', out.output?.ConsumedCapacity);
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
