/**
 * What the ledger-writer function accepts:
 * - cloud: an SQS event from the FIFO ledger queue (rule Ledger's target), each record's body an
 *   EventBridge event carrying an envelope;
 * - local mode / direct invocation: one EventBridge event.
 */
import { z } from 'zod';
import { BusEventSchema } from '../../shared/core/bus/events';

export const SqsRecordSchema = z.looseObject({ messageId: z.string().min(1), body: z.string() });
export const SqsEventSchema = z.looseObject({ Records: z.array(SqsRecordSchema).min(1) });
export type SqsEvent = z.infer<typeof SqsEventSchema>;

export const LedgerWriterEventSchema = z.union([SqsEventSchema, BusEventSchema]);
