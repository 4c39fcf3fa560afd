/**
 * The reliability soak, short form (what CI runs; `npm run soak -- --short` runs the same): local
 * mode in its own process with 100 agents (10 % throw, 5 % hang, 1 % crash, the rest message each
 * other), DynamoDB Local and s3rver restarted under it, duplicate deliveries injected; about two
 * minutes. Every check of soak/checks.ts must pass: the orchestrator process never exited, the
 * ledger holds each published envelope once (gap-free, verified), every faulty agent was
 * restarted within threshold+1 failed cycles per epoch and ended quarantined, no healthy agent was
 * disturbed, nothing ran twice and nothing was lost.
 *
 * The checks are about correctness only: on a loaded machine runs start later (the jitter
 * figure moves) but none of the checks depends on timing. The test also asserts that the soak
 * exercised what it claims (faults happened, duplicates were injected, agents ran), so a soak that
 * silently did nothing cannot pass.
 */
import { describe, expect, it } from 'vitest';
import { formatResult, runSoak } from '../../soak/driver';
import { SHORT_FORM } from '../../soak/forms';

describe('reliability soak (short form)', () => {
  it('100 agents with faulty ones, emulator restarts and duplicate deliveries: every check passes', async () => {
    const progress: string[] = [];
    const result = await runSoak({ ...SHORT_FORM, logLevel: 'warn' }, { progress: (l) => progress.push(l) });
    const report = formatResult(result);
    // on failure the report (checks, figures, where the orchestrator's log and observations are) is the message
    expect(
      result.checks.filter((c) => !c.ok),
      `${report}\n${progress.join('\n')}`,
    ).toEqual([]);
    expect(result.passed).toBe(true);

    const f = result.figures;
    expect(f.faults.dynamodb).toBeGreaterThanOrEqual(2);
    expect(f.faults.s3).toBeGreaterThanOrEqual(1);
    expect(f.duplicatesInjected).toBeGreaterThanOrEqual(20);
    // 16 faulty agents × (3 restarts + the quarantined epoch)
    expect(f.faultyEpochs.epochs).toBe(16 * 4);
    // the 84 healthy agents ran (at least one slot each) and messaged each other
    expect(f.healthySlots.ran).toBeGreaterThanOrEqual(84);
    expect(f.envelopeRuns).toBeGreaterThanOrEqual(84);
    expect(f.ledgerEntries).toBe(f.envelopesPublished + f.orchestratorEvents);
    expect(f.jitterMs.samples).toBeGreaterThanOrEqual(84);
  }, 600_000);
});
