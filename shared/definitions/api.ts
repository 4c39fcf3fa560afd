/**
 * The control API's surface, defined once: the operator actions on agents and components, and
 * the route table. The API handler (functions/api/app.ts) binds a handler to each route id, the
 * CDK stack (infra/constructs/api.ts) turns the table into API Gateway routes, and the tests walk
 * it. A route's path uses API Gateway's `{param}` syntax; a parameter listed in `values` takes
 * only those values (API Gateway gets one route per value, the handler validates it).
 */
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
}

export const API_ROUTES = [
  { id: 'dashboard', method: 'GET', path: '/', public: true },
  { id: 'dashboardScript', method: 'GET', path: '/dashboard/app.js', public: true },
  { id: 'dashboardStyle', method: 'GET', path: '/dashboard/app.css', public: true },
  { id: 'health', method: 'GET', path: '/healthz', public: true },
  { id: 'listAgents', method: 'GET', path: '/agents' },
  { id: 'getAgent', method: 'GET', path: '/agents/{name}' },
  { id: 'agentAction', method: 'POST', path: '/agents/{name}/{action}', values: { action: AGENT_ACTIONS } },
  { id: 'metrics', method: 'GET', path: '/metrics' },
  { id: 'eventStream', method: 'GET', path: '/events/stream' },
  { id: 'publish', method: 'POST', path: '/events' },
  { id: 'ledger', method: 'GET', path: '/ledger' },
  { id: 'verifyLedger', method: 'GET', path: '/ledger/verify' },
  { id: 'replay', method: 'POST', path: '/ledger/replay' },
  { id: 'listComponents', method: 'GET', path: '/components' },
  { id: 'componentAction', method: 'POST', path: '/components/{name}/{action}', values: { action: COMPONENT_ACTIONS } },
] as const satisfies readonly (Omit<RouteDef, 'id'> & { id: string })[];

export type RouteId = (typeof API_ROUTES)[number]['id'];

/** The table with every restricted parameter expanded: one concrete route per allowed value (API Gateway's view). */
export function expandedRoutes(): { id: RouteId; method: 'GET' | 'POST'; path: string; public: boolean }[] {
  return API_ROUTES.flatMap((r: RouteDef) => {
    let paths = [r.path];
    for (const [param, values] of Object.entries(r.values ?? {}))
      paths = paths.flatMap((p) => values.map((v) => p.replace(`{${param}}`, v)));
    return paths.map((path) => ({ id: r.id, method: r.method, path, public: r.public === true }));
  });
}
