/** The scheduler Lambda: its handler from the composition root, in the one Lambda wrapper (functions/lambda.ts). */
import { lambda } from '../lambda';

export const handler = lambda('scheduler', (c) => c.handlers.scheduler);
