/** The kafka-producer Lambda: its handler from the composition root, in the one Lambda wrapper (functions/lambda.ts). */
import { lambda } from '../lambda';

export const handler = lambda('kafka-producer', (c) => c.handlers['kafka-producer']);
