/**
 * EventBridgePublisher. EventBridge has no emulator, so the client is mocked (aws-sdk-client-mock)
 * and every test asserts the exact PutEvents requests sent.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { BusEntryTooLargeError, BusPublishError } from '../../shared/core/bus/errors';
import { ValidationError } from '../../shared/core/errors';
import type { Envelope } from '../../shared/core/envelope';
import { env } from './helpers';

const eb = mockClient(EventBridgeClient);
const client = new EventBridgeClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const sent = (): PutEventsCommandInput[] => eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input);
const entryOf = (e: Envelope) => ({
  Source: 'agent-orchestrator',
  DetailType: e.topic,
  Detail: JSON.stringify(e),
  EventBusName: 'agents-bus',
});

let delays: number[];
let publisher: EventBridgePublisher;

beforeEach(() => {
  eb.reset();
  delays = [];
  publisher = new EventBridgePublisher(client, 'agents-bus', {
    sleep: async (ms) => void delays.push(ms),
    baseDelayMs: 100,
    maxAttempts: 3,
  });
});

describe('EventBridgePublisher', () => {
  it('sends entries in order, at most 10 per PutEvents request', async () => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    const envs = Array.from({ length: 23 }, (_, i) => env(`t.${i}`, 'a', { i }, i === 3 ? { recipient: 'b' } : {}));
    await publisher.publish(envs);
    expect(sent()).toEqual([
      { Entries: envs.slice(0, 10).map(entryOf) },
      { Entries: envs.slice(10, 20).map(entryOf) },
      { Entries: envs.slice(20).map(entryOf) },
    ]);
    expect(delays).toEqual([]);
  });

  it('splits requests by size (256 KB per request) and refuses an entry over 256 KB before sending anything', async () => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    const big = Array.from({ length: 3 }, (_, i) => env('big', 'a', { i, blob: 'x'.repeat(100_000) }));
    await publisher.publish(big);
    expect(sent().map((r) => r.Entries!.length)).toEqual([2, 1]);
    eb.resetHistory();
    const huge = env('big', 'a', { blob: '' });
    huge.payload.blob = 'x'.repeat(256 * 1024 - JSON.stringify(huge).length); // 256 KB envelope + Source + DetailType
    await expect(publisher.publish([env('ok', 'a', {}), huge])).rejects.toBeInstanceOf(BusEntryTooLargeError);
    await expect(publisher.publish([{ ...env('ok', 'a', {}), ts: 'yesterday' }])).rejects.toBeInstanceOf(ValidationError);
    expect(sent()).toEqual([]);
  });

  it('retries only the failed entries (FailedEntryCount) with backoff', async () => {
    const envs = Array.from({ length: 5 }, (_, i) => env('t', 'a', { i }));
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: '0' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
          { EventId: '2' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
          { EventId: '4' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: '1' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'again' }] })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: '3' }] });
    await publisher.publish(envs);
    expect(sent()).toEqual([
      { Entries: envs.map(entryOf) },
      { Entries: [envs[1]!, envs[3]!].map(entryOf) },
      { Entries: [envs[3]!].map(entryOf) },
    ]);
    expect(delays).toEqual([100, 200]);
  });

  it('throws BusPublishError naming what still failed; non-retryable entries are not retried', async () => {
    const envs = Array.from({ length: 3 }, (_, i) => env('t', 'a', { i }));
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: '0' },
          { ErrorCode: 'MalformedDetail', ErrorMessage: 'bad' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'x' },
        ],
      })
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'still' }] });
    const err = await publisher.publish(envs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusPublishError);
    expect((err as BusPublishError).code).toBe('bus_publish_failed');
    expect((err as BusPublishError).failed).toEqual([
      { envelopeId: envs[1]!.id, errorCode: 'MalformedDetail', errorMessage: 'bad' },
      { envelopeId: envs[2]!.id, errorCode: 'InternalFailure', errorMessage: 'still' },
    ]);
    expect(sent()).toEqual([{ Entries: envs.map(entryOf) }, { Entries: [entryOf(envs[2]!)] }, { Entries: [entryOf(envs[2]!)] }]);
    expect(delays).toEqual([100, 200]);
  });

  it('keeps sending later groups when one group fails, then reports the failures', async () => {
    const envs = Array.from({ length: 12 }, (_, i) => env('t', 'a', { i }));
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' }, ...Array.from({ length: 9 }, () => ({ EventId: 'x' }))],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }, { EventId: 'b' }] });
    const err = await publisher.publish(envs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusPublishError);
    expect((err as BusPublishError).message).toBe(
      `1 of 12 envelopes could not be put on bus agents-bus: ${envs[0]!.id} (AccessDeniedException)`,
    );
    expect((err as BusPublishError).failed).toEqual([{ envelopeId: envs[0]!.id, errorCode: 'AccessDeniedException', errorMessage: 'no' }]);
    // the second group was sent after the first one failed; the non-retryable entry was not retried
    expect(sent()).toEqual([{ Entries: envs.slice(0, 10).map(entryOf) }, { Entries: envs.slice(10).map(entryOf) }]);
    expect(delays).toEqual([]);
  });
});
