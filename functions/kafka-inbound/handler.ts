/** The kafka-inbound Lambda: its handler from the composition root, in the one Lambda wrapper (functions/lambda.ts). */
import { lambda } from '../lambda';

export const handler = lambda('kafka-inbound', (c) => c.handlers['kafka-inbound']);
