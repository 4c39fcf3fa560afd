/**
 * SqsDispatcher. SQS has no emulator here, so the client is mocked (aws-sdk-client-mock) and the
 * tests assert the exact SendMessageBatch requests sent.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { SQSClient, SendMessageBatchCommand, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { SqsDispatcher, delaySeconds } from '../../shared/adapters/aws/sqs-dispatcher';
import { DispatchError } from '../../shared/adapters/aws/errors';
import { ValidationError } from '../../shared/core/errors';
import { FakeClock } from '../../shared/core/clock';
import type { DispatchItem } from '../../shared/core/dispatch';
import { T0 } from './helpers';

const sqs = mockClient(SQSClient);
const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/dispatch';
const sent = (): SendMessageBatchCommandInput[] => sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
const cycle = (i: number, notBefore: number): DispatchItem => ({
  message: { kind: 'cycle', agent: 'agent-a', runId: `agent-a@${T0 + i * 1000}`, slot: T0 + i * 1000, generation: 1 },
  notBefore,
});

let clock: FakeClock;
let dispatcher: SqsDispatcher;
beforeEach(() => {
  sqs.reset();
  clock = new FakeClock(T0);
  dispatcher = new SqsDispatcher(client, URL, { clock });
});

describe('SqsDispatcher', () => {
  it('delay = clamp(ceil((notBefore - now) / 1 s), 0, 900)', () => {
    expect(delaySeconds(T0, T0)).toBe(0);
    expect(delaySeconds(T0 - 5000, T0)).toBe(0);
    expect(delaySeconds(T0 + 1, T0)).toBe(1);
    expect(delaySeconds(T0 + 59_000, T0)).toBe(59);
    expect(delaySeconds(T0 + 59_001, T0)).toBe(60);
    expect(delaySeconds(T0 + 3_600_000, T0)).toBe(900);
  });

  it('sends one message per run in batches of at most 10, with per-message delays', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const items = Array.from({ length: 23 }, (_, i) => cycle(i, T0 + i * 1000));
    await dispatcher.dispatch(items);
    const reqs = sent();
    expect(reqs.map((r) => r.Entries?.length)).toEqual([10, 10, 3]);
    expect(reqs[0]).toEqual({
      QueueUrl: URL,
      Entries: items.slice(0, 10).map((it, i) => ({ Id: String(i), MessageBody: JSON.stringify(it.message), DelaySeconds: i })),
    });
    expect(reqs[2]?.Entries?.map((e) => [e.Id, e.DelaySeconds])).toEqual([
      ['20', 20],
      ['21', 21],
      ['22', 22],
    ]);
  });

  it('retries entries SQS failed (not sender faults) once, then reports what still failed', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', Code: 'InternalError', SenderFault: false },
          { Id: '2', Code: 'InvalidParameterValue', SenderFault: true, Message: 'bad' },
        ],
      })
      .resolvesOnce({ Successful: [], Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'still down' }] });
    const err = await dispatcher.dispatch([cycle(0, T0), cycle(1, T0), cycle(2, T0)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).failed).toEqual([
      { runId: `agent-a@${T0 + 2000}`, code: 'InvalidParameterValue', message: 'bad' },
      { runId: `agent-a@${T0 + 1000}`, code: 'InternalError', message: 'still down' },
    ]);
    expect(sent().map((r) => r.Entries?.map((e) => e.Id))).toEqual([['0', '1', '2'], ['1']]);
  });

  it('refuses an invalid message before sending anything', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const bad = { message: { kind: 'cycle', agent: 'NOPE', runId: 'x', slot: 1, generation: 1 }, notBefore: T0 } as unknown as DispatchItem;
    await expect(dispatcher.dispatch([cycle(0, T0), bad])).rejects.toBeInstanceOf(ValidationError);
    expect(sent()).toEqual([]);
    await dispatcher.dispatch([]);
    expect(sent()).toEqual([]);
  });
});
