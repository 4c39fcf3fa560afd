/**
 * The one Lambda wrapper (functions/lambda.ts): the composition is built once per container and
 * reused, every log line of an invocation carries its request id (also lines written deep in the
 * core), and a failing invocation is logged once with its retry semantics and rethrown (a failed
 * composition is not memoised: the next invocation tries again).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lambda } from '../../functions/lambda';
import type { Composition } from '../../functions/compose';
import { createLogger } from '../../shared/core/logger';
import { ConflictError } from '../../shared/core/errors';

function captureStdio(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  return {
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('lambda(): the Lambda wrapper', () => {
  it('composes once, and puts the request id on every log line of the invocation', async () => {
    vi.stubEnv('LEDGER_TABLE', 'ledger-t');
    vi.stubEnv('LOG_LEVEL', 'info');
    let composed = 0;
    const compositions = new Set<Composition>();
    const handler = lambda('ledger-writer', (c) => {
      composed++;
      compositions.add(c);
      // a logger deep in the core, created without any request context of its own
      const deep = createLogger({ service: 'deep' });
      return async (event: unknown) => {
        c.platform.logger.info('in the handler', { event });
        await new Promise((r) => setTimeout(r, 5));
        deep.info('after an await, elsewhere');
        return { ok: true };
      };
    });
    const io = captureStdio();
    try {
      expect(await handler({ n: 1 }, { awsRequestId: 'req-1' })).toEqual({ ok: true });
      expect(await handler({ n: 2 }, { awsRequestId: 'req-2' })).toEqual({ ok: true });
    } finally {
      io.restore();
    }
    expect(composed).toBe(1);
    expect(compositions.size).toBe(1);
    const lines = io.lines();
    expect(lines.map((l) => [l.msg, l.requestId, l.coldStart])).toEqual([
      ['in the handler', 'req-1', true],
      ['after an await, elsewhere', 'req-1', true],
      ['in the handler', 'req-2', false],
      ['after an await, elsewhere', 'req-2', false],
    ]);
  });

  it('logs a failing invocation once with its retry semantics and rethrows; a failed composition is tried again', async () => {
    vi.stubEnv('LOG_LEVEL', 'info');
    let attempts = 0;
    const handler = lambda('ledger-writer', () => {
      attempts++;
      return async () => {
        throw new ConflictError('lost a race', { agent: 'a' });
      };
    });
    const io = captureStdio();
    try {
      // no LEDGER_TABLE: the composition fails, nothing is memoised
      await expect(handler({}, { awsRequestId: 'req-a' })).rejects.toMatchObject({ name: 'ConfigError' });
      expect(attempts).toBe(0);
      vi.stubEnv('LEDGER_TABLE', 'ledger-t');
      await expect(handler({}, { awsRequestId: 'req-b' })).rejects.toBeInstanceOf(ConflictError);
      expect(attempts).toBe(1);
    } finally {
      io.restore();
    }
    const failed = io.lines().filter((l) => l.msg === 'invocation failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ requestId: 'req-a', retryable: false, error: { name: 'ConfigError', code: 'config_invalid' } });
    expect(failed[1]).toMatchObject({
      requestId: 'req-b',
      retryable: false,
      error: { name: 'ConflictError', code: 'conflict', message: 'lost a race' },
    });
  });
});
