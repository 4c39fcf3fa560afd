/**
 * The ledger-digest handler (its Lambda and local mode run it; built by functions/compose.ts):
 * the `{"action":"digest"}` schedule (LedgerDigest, every 5 minutes; local mode every minute).
 * Anchors the ledger's head (seq, hash of that entry, time) in the digest store: the S3 bucket
 * with Object Lock in the cloud, a file of the data dir locally. Its role can read the ledger and
 * write digests, nothing else; the ledger writer's role cannot touch the digests.
 *
 * Nothing is written while the ledger is empty or its head is anchored already.
 */
import { z } from 'zod';
import { ValidationError } from '../../shared/core/errors';
import type { DigestResult, LedgerService } from '../../shared/core/ledger/service';
import { silentLogger, type Logger } from '../../shared/core/logger';

export const LedgerDigestEventSchema = z.object({ action: z.literal('digest') }).strict();

export interface LedgerDigestDeps {
  ledger: Pick<LedgerService, 'writeDigest'>;
  logger?: Logger;
}

export function createLedgerDigestHandler(deps: LedgerDigestDeps): (event: unknown) => Promise<DigestResult> {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown) => {
    const parsed = LedgerDigestEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported ledger-digest event: ${z.prettifyError(parsed.error)}`);
    const r = await deps.ledger.writeDigest();
    if (!r.written) log.debug('no new ledger digest', { head: r.head });
    return r;
  };
}
