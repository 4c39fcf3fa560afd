/**
 * api Lambda: API Gateway HTTP API (payload v2) → the control API handler (app.ts). Thin: the
 * dependencies are built once per container from the environment (env.ts); `createApiHandler`
 * is the factory tests and local mode call with their own dependencies.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createApiHandler, type ApiHandler } from './app';
import { apiDepsFromEnv } from './env';

export { createApiHandler };

let cached: ApiHandler | undefined;

export const handler = (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => (cached ??= createApiHandler(apiDepsFromEnv()))(event);
