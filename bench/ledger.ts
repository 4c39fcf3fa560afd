/**
 * Ledger and bus throughput on DynamoDB Local (started here, in memory), through the same code
 * local mode runs: 20 concurrent publishers → LocalBus (shared RULES, our pattern matcher) →
 * the ledger-writer handler (SQS-FIFO-shaped batches) → LedgerService → DynamoDB Local.
 *
 * Figures: append/s with the cloud's SQS batch size (10) and with full commits (45), verify/s,
 * list/s (pages of 1000), replay/s (read + re-publish) and replay end to end (re-ledgered).
 * The pattern matcher alone is measured by bench/pattern.ts (no emulator). DynamoDB Local is far
 * slower per request than DynamoDB (it is a single Java process sharing this machine's cores with
 * the benchmark), so the DynamoDB-bound figures are a floor for local mode, not a prediction for
 * the cloud.
 */
import { createClients } from '../shared/adapters/aws/clients';
import { ensureTable } from '../shared/adapters/aws/tables';
import { DynamoLedgerStore } from '../shared/adapters/aws/dynamo-ledger';
import { LEDGER_TABLE } from '../shared/definitions/tables';
import { RULES } from '../shared/definitions/routing';
import { LedgerService } from '../shared/core/ledger/service';
import { makeEnvelope } from '../shared/core/envelope';
import { createLedgerWriterHandler } from '../functions/ledger-writer/core';
import { LocalBus } from '../local/bus';
import { startDynamoLocal } from '../local/emulators';
import type { BenchResult } from './types';

const PUBLISHERS = 20;

async function appendRun(clients: ReturnType<typeof createClients>, table: string, total: number, batchSize: number) {
  await ensureTable(clients.ddbRaw, LEDGER_TABLE, table);
  const ledger = new LedgerService({ store: new DynamoLedgerStore(clients.ddb, table) });
  const writer = createLedgerWriterHandler({ ledger });
  const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets: { 'ledger-writer': writer }, ledgerBatchSize: batchSize });
  const per = total / PUBLISHERS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async (_, p) => {
      for (let i = 0; i < per; i += 5) {
        await bus.publish(
          Array.from({ length: 5 }, (_, j) =>
            makeEnvelope({ topic: `bench.${p % 4}`, sender: `p${p}`, payload: { p, i: i + j, text: 'x'.repeat(200) } }),
          ),
        );
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  await bus.idle();
  const seconds = (performance.now() - t0) / 1000;
  const head = await ledger.head();
  if (head.seq !== total) throw new Error(`expected ${total} entries, ledger head is ${head.seq}`);
  return { ledger, bus, perSecond: total / seconds };
}

export async function run(): Promise<BenchResult[]> {
  const ddb = await startDynamoLocal();
  try {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, localCredentials: true });
    const N = 4000;
    const a10 = await appendRun(clients, 'bench-ledger-10', N, 10);
    const a45 = await appendRun(clients, 'bench-ledger-45', N, 45);
    const ledger = a45.ledger;

    let t0 = performance.now();
    const report = await ledger.verify();
    const verifyPerSecond = report.entries / ((performance.now() - t0) / 1000);
    if (!report.ok) throw new Error('verify failed');

    t0 = performance.now();
    let listed = 0;
    let after: number | undefined;
    for (;;) {
      const page = await ledger.list({ limit: 1000, ...(after !== undefined ? { after } : {}) });
      listed += page.entries.length;
      if (page.next === null) break;
      after = page.next;
    }
    const listPerSecond = listed / ((performance.now() - t0) / 1000);

    // replay: read + re-publish onto the bus (what POST /ledger/replay waits for) ...
    const replayer = new LedgerService({ store: new DynamoLedgerStore(clients.ddb, 'bench-ledger-45'), publisher: a45.bus });
    const R = 2000;
    t0 = performance.now();
    const { count } = await replayer.replay({ fromSeq: 1, toSeq: R });
    const replayPerSecond = count / ((performance.now() - t0) / 1000);
    // ... and until the replays are ledgered (bus delivery + append)
    await a45.bus.idle();
    const replayEndToEnd = count / ((performance.now() - t0) / 1000);
    const after2 = await ledger.verify();
    if (!after2.ok || after2.entries !== N + R) throw new Error('replay did not re-ledger every entry');

    const r = (v: number) => Math.round(v);
    return [
      {
        name: `append via local bus, ${PUBLISHERS} publishers, SQS batch 10`,
        value: r(a10.perSecond),
        unit: 'envelopes/s',
        note: `${N} envelopes, DynamoDB Local`,
      },
      {
        name: `append via local bus, ${PUBLISHERS} publishers, batch 45 (one commit)`,
        value: r(a45.perSecond),
        unit: 'envelopes/s',
        note: `${N} envelopes, DynamoDB Local`,
      },
      { name: 'verify', value: r(verifyPerSecond), unit: 'entries/s', note: `${report.entries} entries` },
      { name: 'list (pages of 1000)', value: r(listPerSecond), unit: 'entries/s' },
      { name: 'replay (read + re-publish)', value: r(replayPerSecond), unit: 'envelopes/s', note: `${count} entries` },
      { name: 'replay until re-ledgered', value: r(replayEndToEnd), unit: 'envelopes/s', note: 'bus delivery + append, batch 45' },
    ];
  } finally {
    await ddb.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
