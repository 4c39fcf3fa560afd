/** The ledger-digest Lambda: its handler from the composition root, in the one Lambda wrapper (functions/lambda.ts). */
import { lambda } from '../lambda';

export const handler = lambda('ledger-digest', (c) => c.handlers['ledger-digest']);
