/**
 * The control API's surface, defined once: the operator actions on agents and components, and
 * the route table. The API handler (functions/api/app.ts) binds a handler to each route id, the
 * CDK stack (infra/constructs/api.ts) turns the table into API Gateway routes, and the tests walk
 * it. A route's path uses API Gateway's `{param}` syntax; a parameter listed in `values` takes
 * only those values (API Gateway gets one route per value, the handler validates it).
 *
 * The gRPC/Connect services (proto/, generated into shared/gen/) are routes too, of kind `rpc`:
 * `POST /<package>.<Service>/{method}` for each unary method, so that API Gateway forwards
 * Connect and gRPC-Web calls to the same handler. Their streaming methods are served by the
 * streaming function URL (and locally by the API port), never through API Gateway.
 */
import type { DescService } from '@bufbuild/protobuf';
import { AgentsService } from '../gen/agentorchestrator/v1/agents_pb';
import { BusService } from '../gen/agentorchestrator/v1/bus_pb';
import { ComponentsService } from '../gen/agentorchestrator/v1/components_pb';
import { LedgerService } from '../gen/agentorchestrator/v1/ledger_pb';
import { MetricsService } from '../gen/agentorchestrator/v1/metrics_pb';

/** What an operator can do to an agent: `POST /agents/{name}/{action}`. */
export const AGENT_ACTIONS = ['pause', 'resume', 'trigger', 'restart', 'quarantine', 'release'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

/** What an operator can do to a component: `POST /components/{name}/{action}`. */
export const COMPONENT_ACTIONS = ['stop', 'start'] as const;
export type ComponentAction = (typeof COMPONENT_ACTIONS)[number];

export interface RouteDef {
  /** the handler bound to it (functions/api/app.ts) */
  id: RouteId;
  method: 'GET' | 'POST';
  path: string;
  /** no authentication (health check, the dashboard's static files) */
  public?: boolean;
  /** parameters that take only these values */
  values?: Record<string, readonly string[]>;
  /** `rpc`: a gRPC/Connect service (described by proto/, not by the OpenAPI document) */
  kind?: 'rpc';
}

/** The gRPC/Connect services of proto/, in the order of the route table. */
export const RPC_SERVICES = [
  AgentsService,
  BusService,
  LedgerService,
  ComponentsService,
  MetricsService,
] as const satisfies readonly DescService[];

/** The path of a service's methods: `/<package>.<Service>/` + the method name. */
export const rpcServicePath = (s: DescService): string => `/${s.typeName}`;

/** The unary methods of a service (what API Gateway can carry). */
export const unaryMethods = (s: DescService): string[] => s.methods.filter((m) => m.methodKind === 'unary').map((m) => m.name);

/** The server-streaming methods of a service (the streaming function URL; locally the API port). */
export const streamingMethods = (s: DescService): string[] => s.methods.filter((m) => m.methodKind !== 'unary').map((m) => m.name);

const rpcRoute = <const I extends string>(id: I, s: DescService) =>
  ({ id, method: 'POST', path: `${rpcServicePath(s)}/{method}`, values: { method: unaryMethods(s) }, kind: 'rpc' }) as const;

export const API_ROUTES = [
  { id: 'dashboard', method: 'GET', path: '/', public: true },
  { id: 'dashboardScript', method: 'GET', path: '/dashboard/app.js', public: true },
  { id: 'dashboardStyle', method: 'GET', path: '/dashboard/app.css', public: true },
  { id: 'health', method: 'GET', path: '/healthz', public: true },
  { id: 'listAgents', method: 'GET', path: '/agents' },
  // before /agents/{name}: `summary` is therefore not reachable as an agent name by GET /agents/{name}
  { id: 'agentSummary', method: 'GET', path: '/agents/summary' },
  { id: 'getAgent', method: 'GET', path: '/agents/{name}' },
  { id: 'agentLogs', method: 'GET', path: '/agents/{name}/logs' },
  { id: 'agentAction', method: 'POST', path: '/agents/{name}/{action}', values: { action: AGENT_ACTIONS } },
  { id: 'metrics', method: 'GET', path: '/metrics' },
  { id: 'eventStream', method: 'GET', path: '/events/stream' },
  { id: 'publish', method: 'POST', path: '/events' },
  { id: 'ledger', method: 'GET', path: '/ledger' },
  { id: 'verifyLedger', method: 'GET', path: '/ledger/verify' },
  { id: 'replay', method: 'POST', path: '/ledger/replay' },
  { id: 'listComponents', method: 'GET', path: '/components' },
  { id: 'componentAction', method: 'POST', path: '/components/{name}/{action}', values: { action: COMPONENT_ACTIONS } },
  { id: 'openapi', method: 'GET', path: '/openapi.json', public: true },
  rpcRoute('agentsRpc', AgentsService),
  rpcRoute('busRpc', BusService),
  rpcRoute('ledgerRpc', LedgerService),
  rpcRoute('componentsRpc', ComponentsService),
  rpcRoute('metricsRpc', MetricsService),
] as const satisfies readonly (Omit<RouteDef, 'id'> & { id: string })[];

export type RouteId = (typeof API_ROUTES)[number]['id'];
/** the gRPC/Connect services' routes */
export type RpcRouteId = Extract<(typeof API_ROUTES)[number], { kind: 'rpc' }>['id'];
/** the REST routes (described by the OpenAPI document) */
export type RestRouteId = Exclude<RouteId, RpcRouteId>;

/** The table with every restricted parameter expanded: one concrete route per allowed value (API Gateway's view). */
export function expandedRoutes(): { id: RouteId; method: 'GET' | 'POST'; path: string; public: boolean; kind: 'rest' | 'rpc' }[] {
  return API_ROUTES.flatMap((r: RouteDef) => {
    let paths = [r.path];
    for (const [param, values] of Object.entries(r.values ?? {}))
      paths = paths.flatMap((p) => values.map((v) => p.replace(`{${param}}`, v)));
    return paths.map((path) => ({ id: r.id, method: r.method, path, public: r.public === true, kind: r.kind ?? 'rest' }));
  });
}
