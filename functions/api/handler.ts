/** The api Lambda (API Gateway HTTP API, payload v2): the control API handler (app.ts) from the composition root, in the one Lambda wrapper. */
import { lambda } from '../lambda';

export const handler = lambda('api', (c) => c.handlers.api as (event: unknown) => ReturnType<typeof c.handlers.api>);
