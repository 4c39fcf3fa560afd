/**
 * The gRPC/Connect services of proto/agentorchestrator/v1 on the API's operations
 * (../operations.ts): each method validates its request with the same zod schemas as the REST
 * route (../schemas.ts), calls the same operation, and answers errors with the gRPC code of the
 * same error table (../errors.ts: grpcCodeOf, toConnectError). No operation is implemented here.
 */
import { Code, ConnectError, createContextKey, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { Clock } from '../../../shared/core/clock';
import type { Logger } from '../../../shared/core/logger';
import type { AgentAction } from '../../../shared/definitions/api';
import { AgentsService } from '../../../shared/gen/agentorchestrator/v1/agents_pb';
import { BusService } from '../../../shared/gen/agentorchestrator/v1/bus_pb';
import { ComponentsService } from '../../../shared/gen/agentorchestrator/v1/components_pb';
import { LedgerService } from '../../../shared/gen/agentorchestrator/v1/ledger_pb';
import { MetricsService } from '../../../shared/gen/agentorchestrator/v1/metrics_pb';
import { errorMapping, toConnectError } from '../errors';
import { type ApiOperations, validate } from '../operations';
import {
  AgentPageSchema,
  AgentNameSchema,
  ComponentNameSchema,
  LedgerPageSchema,
  MetricsStreamSchema,
  PublishBodySchema,
  ReplayBodySchema,
  SubscribeSchema,
} from '../schemas';
import { abortableSleep } from '../tail';
import * as pb from './convert';

/** Set on calls that arrive through API Gateway (server.ts): server streams are refused there. */
export const UNARY_ONLY = createContextKey<boolean>(false, { description: 'unary only' });

/** What a server stream answers when it is called through API Gateway (which cannot stream). */
export function streamsNotHere(): ConnectError {
  return new ConnectError(
    'server streams are not served through API Gateway: call the streaming endpoint (stack output EventsStreamUrl)',
    Code.FailedPrecondition,
    { 'error-code': 'use_stream_endpoint' },
  );
}

export interface RpcServiceDeps {
  ops: ApiOperations;
  clock: Clock;
  log: Logger;
  /** streams end after this long (the streaming Lambda's timeout; the client resumes) */
  maxStreamMs?: number | undefined;
  /** injectable wait of the metrics stream (tests) */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** empty strings of proto3 are "not set" */
const str = (v: string): string | undefined => (v === '' ? undefined : v);

export function registerServices(router: ConnectRouter, deps: RpcServiceDeps): void {
  const { ops, log } = deps;
  const sleep = deps.sleep ?? abortableSleep;

  const fail = (e: unknown, method: string): never => {
    if (errorMapping(e).status >= 500) log.error('rpc failed', { method, error: e });
    else log.debug('rpc rejected', { method, code: (e as { code?: string }).code });
    throw toConnectError(e);
  };
  /** a unary method: errors by the error table */
  const unary =
    <Req, Res>(method: string, fn: (req: Req, ctx: HandlerContext) => Promise<Res>) =>
    async (req: Req, ctx: HandlerContext): Promise<Res> => {
      try {
        return await fn(req, ctx);
      } catch (e) {
        return fail(e, method);
      }
    };
  /** a server-streaming method: errors by the error table, before or during the stream */
  const streaming = <Req, Res>(method: string, fn: (req: Req, ctx: HandlerContext) => AsyncGenerator<Res>) =>
    async function* (req: Req, ctx: HandlerContext): AsyncGenerator<Res> {
      if (ctx.values.get(UNARY_ONLY)) throw streamsNotHere();
      try {
        yield* fn(req, ctx);
      } catch (e) {
        fail(e, method);
      }
    };

  const name = (v: string) => validate(AgentNameSchema, v, 'agent name');
  const act = (action: AgentAction) =>
    unary(action, async (req: { name: string }) => {
      const out = await ops.actOnAgent(name(req.name), action);
      return { agent: pb.agent(out.agent), ...(out.runId !== undefined ? { runId: out.runId } : {}) };
    });

  router.service(AgentsService, {
    listAgents: unary('ListAgents', async (req) => {
      const status = Object.entries(pb.STATUS).find(([, v]) => v === req.status)?.[0];
      const q = validate(
        AgentPageSchema,
        {
          ...(req.limit ? { limit: req.limit } : {}),
          ...(str(req.cursor) ? { cursor: req.cursor } : {}),
          ...(status ? { status } : {}),
          ...(str(req.prefix) ? { prefix: req.prefix } : {}),
        },
        'page request',
      );
      const page = await ops.listAgents(q);
      return { agents: page.agents.map(pb.agent), cursor: page.cursor ?? '' };
    }),
    getAgent: unary('GetAgent', async (req) => ({ agent: pb.agentDetail(await ops.getAgent(name(req.name))) })),
    pauseAgent: act('pause'),
    resumeAgent: act('resume'),
    triggerAgent: act('trigger'),
    restartAgent: act('restart'),
    quarantineAgent: act('quarantine'),
    releaseAgent: act('release'),
  });

  router.service(BusService, {
    publish: unary('Publish', async (req) => {
      const body = validate(
        PublishBodySchema,
        { topic: req.topic, payload: req.payload ?? {}, ...(req.recipient !== undefined ? { recipient: req.recipient } : {}) },
        'envelope',
      );
      return ops.publish(body);
    }),
    subscribe: streaming('Subscribe', async function* (req, ctx) {
      const q = validate(
        SubscribeSchema,
        {
          ...(req.afterSeq !== undefined ? { afterSeq: pb.num(req.afterSeq) } : {}),
          ...(str(req.topic) ? { topic: req.topic } : {}),
          ...(str(req.agent) ? { agent: req.agent } : {}),
        },
        'subscription',
      );
      for await (const e of ops.subscribe({ ...q, signal: ctx.signal })) yield { seq: BigInt(e.seq), envelope: pb.envelope(e) };
    }),
  });

  router.service(LedgerService, {
    listLedgerEntries: unary('ListLedgerEntries', async (req) => {
      const q = validate(
        LedgerPageSchema,
        {
          ...(req.after !== undefined ? { after: pb.num(req.after) } : {}),
          ...(req.limit !== 0 ? { limit: req.limit } : {}),
          ...(str(req.topic) ? { topic: req.topic } : {}),
          ...(str(req.agent) ? { agent: req.agent } : {}),
        },
        'ledger query',
      );
      const page = await ops.ledgerPage(q);
      return {
        entries: page.entries.map(pb.ledgerEntry),
        ...(page.next !== null ? { next: BigInt(page.next) } : {}),
        head: BigInt(page.head),
      };
    }),
    verifyLedger: unary('VerifyLedger', async (req) => {
      const r = await ops.verifyLedger(req.digests ? { digests: true } : {});
      const d = r.digests;
      return {
        ok: r.ok,
        entries: BigInt(r.entries),
        head: r.head,
        ...(r.firstBad !== null ? { firstBad: BigInt(r.firstBad) } : {}),
        ...(d
          ? {
              digests: {
                ok: d.ok,
                total: d.total,
                checked: d.checked,
                expired: d.expired,
                mismatched: d.mismatched.map((m) => ({
                  ref: m.ref,
                  seq: BigInt(m.seq),
                  at: m.at,
                  anchored: m.anchored,
                  ...(m.found !== null ? { found: m.found } : {}),
                })),
                ...(d.lastMatching
                  ? { lastMatching: { seq: BigInt(d.lastMatching.seq), at: d.lastMatching.at, ref: d.lastMatching.ref } }
                  : {}),
              },
            }
          : {}),
      };
    }),
    replayLedger: unary('ReplayLedger', async (req) => {
      const b = validate(
        ReplayBodySchema,
        {
          fromSeq: pb.num(req.fromSeq),
          toSeq: pb.num(req.toSeq),
          ...(str(req.topic) ? { topic: req.topic } : {}),
          ...(str(req.agent) ? { agent: req.agent } : {}),
        },
        'replay request',
      );
      return { count: BigInt((await ops.replay(b)).count) };
    }),
  });

  const component = (v: string) => validate(ComponentNameSchema, v, 'component');
  router.service(ComponentsService, {
    listComponents: unary('ListComponents', async () => ({ components: await ops.listComponents() })),
    startComponent: unary('StartComponent', async (req) => ({ component: await ops.switchComponent(component(req.name), 'start') })),
    stopComponent: unary('StopComponent', async (req) => ({ component: await ops.switchComponent(component(req.name), 'stop') })),
  });

  router.service(MetricsService, {
    getMetrics: unary('GetMetrics', async () => ({ snapshot: pb.metricsSnapshot(await ops.metrics()) })),
    streamMetrics: streaming('StreamMetrics', async function* (req, ctx) {
      const q = validate(MetricsStreamSchema, req.intervalSeconds === 0 ? {} : { intervalSeconds: req.intervalSeconds }, 'metrics stream');
      const started = deps.clock.now();
      const expired = () => deps.maxStreamMs !== undefined && deps.clock.now() - started >= deps.maxStreamMs;
      while (!ctx.signal.aborted && !expired()) {
        yield { snapshot: pb.metricsSnapshot(await ops.metrics()) };
        await sleep(q.intervalSeconds * 1000, ctx.signal);
      }
    }),
  });
}
