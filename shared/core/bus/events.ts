/**
 * How envelopes travel on the bus: as EventBridge events with `Source = agent-orchestrator`
 * (BUS_SOURCE), `DetailType = topic`, `Detail = envelope JSON`. The local bus builds exactly the
 * event PutEvents would deliver, and the handlers (router, ledger writer) parse it with the same
 * schema in both modes. Also the PutEvents size arithmetic both publishers share, so an envelope
 * the cloud bus would refuse is refused locally too.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BUS_SOURCE } from '../../definitions/routing';
import { EnvelopeSchema, type Envelope } from '../envelope';
import { BusEntryTooLargeError } from './errors';

/** PutEvents limits: entries per request, and bytes per entry and per request (256 KB). */
export const PUT_EVENTS_MAX_ENTRIES = 10;
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** An EventBridge event as targets receive it. */
export interface BusEvent<D = unknown> {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 with second precision (EventBridge's format), e.g. 2026-01-01T00:00:00Z */
  time: string;
  region: string;
  resources: string[];
  detail: D;
}

export const BusEventSchema = z.object({
  version: z.string(),
  id: z.string().min(1),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});

/** An orchestrator envelope event (Source BUS_SOURCE, DetailType = the envelope's topic). */
export const EnvelopeEventSchema = BusEventSchema.extend({ source: z.literal(BUS_SOURCE), detail: EnvelopeSchema }).refine(
  (e) => e['detail-type'] === e.detail.topic,
  { message: 'detail-type must equal the envelope topic', path: ['detail-type'] },
);
export type EnvelopeEvent = BusEvent<Envelope>;

/** EventBridge's `time`: ISO 8601, second precision. */
export const eventTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The PutEvents entry of an envelope (no Time: EventBridge stamps the arrival time). */
export interface BusEntry {
  Source: string;
  DetailType: string;
  Detail: string;
}

export function toBusEntry(e: Envelope): BusEntry {
  return { Source: BUS_SOURCE, DetailType: e.topic, Detail: JSON.stringify(e) };
}

/** Entry size as EventBridge computes it: UTF-8 bytes of Source + DetailType + Detail (+14 for Time, +Resources). */
export function busEntrySize(entry: BusEntry): number {
  return Buffer.byteLength(entry.Source, 'utf8') + Buffer.byteLength(entry.DetailType, 'utf8') + Buffer.byteLength(entry.Detail, 'utf8');
}

/**
 * Groups envelopes into PutEvents requests (≤ 10 entries, ≤ 256 KB in total), in order.
 * Throws BusEntryTooLargeError if one entry alone is over the limit (nothing is sent then).
 */
export function planPutEvents(envelopes: Envelope[]): { envelope: Envelope; entry: BusEntry; size: number }[][] {
  const items = envelopes.map((envelope) => {
    const entry = toBusEntry(envelope);
    const size = busEntrySize(entry);
    if (size > PUT_EVENTS_MAX_BYTES) throw new BusEntryTooLargeError(envelope.id, size, PUT_EVENTS_MAX_BYTES);
    return { envelope, entry, size };
  });
  const groups: (typeof items)[] = [];
  let cur: typeof items = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length > 0 && (cur.length === PUT_EVENTS_MAX_ENTRIES || bytes + it.size > PUT_EVENTS_MAX_BYTES)) {
      groups.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += it.size;
  }
  if (cur.length) groups.push(cur);
  return groups;
}

/** The event EventBridge delivers to rule targets for one PutEvents entry. */
export function toBusEvent<D>(
  entry: { source: string; detailType: string; detail: D; resources?: string[] },
  opts: { now: number; account: string; region: string; id?: string },
): BusEvent<D> {
  return {
    version: '0',
    id: opts.id ?? randomUUID(),
    'detail-type': entry.detailType,
    source: entry.source,
    account: opts.account,
    time: eventTime(opts.now),
    region: opts.region,
    resources: entry.resources ?? [],
    detail: entry.detail,
  };
}
