/** The sandbox Lambda (the cloud's `lambda` runtime): its handler from the composition root, in the one Lambda wrapper. */
import { lambda } from '../lambda';

export const handler = lambda('sandbox', (c) => c.handlers.sandbox);
