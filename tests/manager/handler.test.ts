/**
 * The agent-manager handler (functions/agent-manager: createManagerHandler, what the Lambda and
 * local mode run) against s3rver and DynamoDB Local, fed the EventBridge events S3 sends: the
 * s3rver notifications of real puts and deletes, reshaped as local mode does (local/s3-events.ts).
 * Bus events go through the real LocalBus. Inspection with the real WorkerSandbox:
 * a bundle whose code fails is rejected for good (bad_manifest), while an inspection the host
 * could not do (a worker that cannot start, a bundle cache that cannot be written) is thrown, so
 * the event is retried, and nothing is rejected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { InspectionUnavailableError } from '../../shared/adapters/node/errors';
import type { WorkerSandbox } from '../../shared/adapters/node/sandbox';
import { AgentManager } from '../../shared/core/manager/service';
import { generateKeyPair, parseTrustedKeys, publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { bundleKey } from '../../shared/core/bundle/identity';
import type { Envelope } from '../../shared/core/envelope';
import { RULES } from '../../shared/definitions/routing';
import { createManagerHandler } from '../../functions/agent-manager/core';
import type { S3NotificationRecord } from '../../local/emulators';
import { LocalBus } from '../../local/bus';
import { toEventBridge, type S3EventBridgeEvent } from '../../local/s3-events';
import { createTestTables, startTestS3, tempDir, uniqueSuffix, type TestTables } from '../support/env';
import { createTestInspector, STARVED_HEAP_MB } from '../support/inspector';

let s3: Awaited<ReturnType<typeof startTestS3>>;
let t: TestTables;
let registry: DynamoRegistry;
let store: S3BundleStore;
let bus: LocalBus;
let dir: ReturnType<typeof tempDir>;
const published: Envelope[] = [];
/** what s3rver notified, as the EventBridge events S3 puts on the default bus */
const s3Events: S3EventBridgeEvent[] = [];
const key = generateKeyPair();
const enc = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  s3 = await startTestS3();
  t = await createTestTables(s3.endpoint);
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
  store = new S3BundleStore(t.clients.s3, s3.bucket);
  bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: s3.bucket }, targets: {} });
  bus.subscribe((e) => published.push(e.detail));
  dir = tempDir('orch-manager-');
  s3.events.on('event', (ev: { Records?: S3NotificationRecord[] }) => {
    for (const r of ev.Records ?? []) {
      const e = toEventBridge(r);
      if (e) s3Events.push(e);
    }
  });
});

afterAll(async () => {
  await bus?.idle();
  await s3?.stop();
  dir?.cleanup();
});

function handlerWith(inspector: WorkerSandbox) {
  const manager = new AgentManager({
    registry,
    bundles: store,
    events: bus,
    inspector,
    trustedKeys: parseTrustedKeys(key.publicKey),
    maxBytes: 64 * 1024,
  });
  return createManagerHandler({ manager, bucket: s3.bucket });
}

/** The notification s3rver sent for `key` (an upload: Object Created, a delete: Object Deleted), waited for. */
async function eventFor(objectKey: string, type: S3EventBridgeEvent['detail-type']): Promise<S3EventBridgeEvent> {
  let found: S3EventBridgeEvent | undefined;
  await expect
    .poll(() => (found = s3Events.find((e) => e['detail-type'] === type && decodeURIComponent(e.detail.object.key) === objectKey)), {
      timeout: 30_000,
    })
    .toBeDefined();
  return found as S3EventBridgeEvent;
}

async function upload(name: string, version: string, src: string): Promise<S3EventBridgeEvent> {
  const bytes = enc(src);
  await store.put(bundleKey(name, version), bytes, {
    signature: signBundle(key.privateKey, name, version, bytes),
    signer: publicKeyOf(key.privateKey),
  });
  return eventFor(bundleKey(name, version), 'Object Created');
}

async function remove(objectKey: string): Promise<S3EventBridgeEvent> {
  await t.clients.s3.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: objectKey }));
  return eventFor(objectKey, 'Object Deleted');
}

const agentSrc = (tag: string) => `export default { cycleSeconds: 30, async runCycle() {} }; // ${tag}`;
const topicsFor = (name: string) =>
  published.filter((e) => e.payload.name === name || String(e.payload.key ?? '').startsWith(`agents/${name}/`)).map((e) => e.topic);

describe('agent-manager handler: S3 events, rescan, other buckets', () => {
  it('Object Deleted of the active version deregisters the agent; of another version changes nothing', async () => {
    const handler = handlerWith(createTestInspector());
    const name = `del-${uniqueSuffix()}`;
    expect(await handler(await upload(name, '1.0.0', agentSrc('1')))).toEqual({
      outcomes: [expect.objectContaining({ kind: 'registered', name, version: '1.0.0' })],
    });
    expect(await handler(await upload(name, '1.1.0', agentSrc('1.1')))).toEqual({
      outcomes: [expect.objectContaining({ kind: 'registered', name, version: '1.1.0', previousVersion: '1.0.0' })],
    });
    const active = await registry.get(name);
    expect(active?.version).toBe('1.1.0');

    // the old version's object goes: the agent keeps running its active version
    expect(await handler(await remove(bundleKey(name, '1.0.0')))).toEqual({
      outcomes: [{ kind: 'ignored', key: bundleKey(name, '1.0.0'), why: 'not the active version' }],
    });
    expect(await registry.get(name)).toEqual(active);

    // the active version's object goes: deregistered, with its ledger event
    expect(await handler(await remove(bundleKey(name, '1.1.0')))).toEqual({ outcomes: [{ kind: 'deregistered', name, version: '1.1.0' }] });
    expect(await registry.get(name)).toBeNull();
    await bus.idle();
    expect(topicsFor(name)).toEqual(['agent.registered', 'agent.registered', 'agent.deregistered']);
    expect(published.at(-1)?.payload).toEqual({ name, version: '1.1.0', key: bundleKey(name, '1.1.0') });
  });

  it('a rescan event registers the newest bundle of each agent and deregisters agents whose bundle is gone', async () => {
    const handler = handlerWith(createTestInspector());
    const fresh = `scan-${uniqueSuffix()}`;
    const orphan = `orphan-${uniqueSuffix()}`;
    expect((await handler(await upload(orphan, '1.0.0', agentSrc('orphan')))).outcomes).toMatchObject([{ kind: 'registered' }]);
    // changes whose events were missed (manager stopped, events lost): two uploads and a delete
    await upload(fresh, '1.0.0', agentSrc('f1'));
    await upload(fresh, '2.0.0', agentSrc('f2'));
    await remove(bundleKey(orphan, '1.0.0'));

    const { outcomes } = await handler({ action: 'rescan' });
    expect(outcomes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'registered', name: fresh, version: '2.0.0', previousVersion: null }),
        { kind: 'deregistered', name: orphan, version: '1.0.0' },
      ]),
    );
    expect(
      outcomes.filter(
        (o) =>
          ('name' in o && (o.name === fresh || o.name === orphan)) || ('key' in o && (o.key.includes(fresh) || o.key.includes(orphan))),
      ),
    ).toHaveLength(2);
    expect((await registry.get(fresh))?.version).toBe('2.0.0');
    expect(await registry.get(orphan)).toBeNull();
    // a second rescan finds nothing to do for them
    const again = await handler({ action: 'rescan' });
    expect(
      again.outcomes.filter(
        (o) =>
          ('name' in o && (o.name === fresh || o.name === orphan)) || ('key' in o && (o.key.includes(fresh) || o.key.includes(orphan))),
      ),
    ).toEqual([]);
  });

  it('events for another bucket are ignored: nothing registered, nothing deregistered, nothing published', async () => {
    const handler = handlerWith(createTestInspector());
    const name = `other-${uniqueSuffix()}`;
    const created = await upload(name, '1.0.0', agentSrc('o'));
    const elsewhere = (e: S3EventBridgeEvent): S3EventBridgeEvent => ({
      ...e,
      resources: ['arn:aws:s3:::someone-elses-bucket'],
      detail: { ...e.detail, bucket: { name: 'someone-elses-bucket' } },
    });
    await bus.idle();
    const before = published.length;
    // the very object exists in the hot directory: only the bucket name differs
    expect(await handler(elsewhere(created))).toEqual({
      outcomes: [{ kind: 'ignored', key: bundleKey(name, '1.0.0'), why: 'bucket someone-elses-bucket is not the hot directory' }],
    });
    expect(await registry.get(name)).toBeNull();

    // registered from the hot bucket, then a delete in the other bucket: still registered
    expect((await handler(created)).outcomes).toMatchObject([{ kind: 'registered', name }]);
    const rec = await registry.get(name);
    const deleted: S3EventBridgeEvent = {
      ...created,
      'detail-type': 'Object Deleted',
      detail: { ...created.detail, reason: 'DeleteObject' },
    };
    expect((await handler(elsewhere(deleted))).outcomes).toEqual([
      { kind: 'ignored', key: bundleKey(name, '1.0.0'), why: 'bucket someone-elses-bucket is not the hot directory' },
    ]);
    expect(await registry.get(name)).toEqual(rec);
    await bus.idle();
    expect(published.slice(before).map((e) => e.topic)).toEqual(['agent.registered']);
  });
});

describe("inspection: the bundle's fault is bad_manifest, the host's is retried", () => {
  it('a bundle whose code throws at import, or whose default export is not an agent, is rejected (bad_manifest)', async () => {
    const handler = handlerWith(createTestInspector());
    for (const [src, why] of [
      [
        'throw new Error("cannot start"); export default { runCycle() {} };',
        /bundle could not be loaded: bundle could not be imported: cannot start/,
      ],
      ['export default 42;', /bundle could not be loaded: the default export is not an agent object \(got number\)/],
      ['export default { cycleSeconds: 0.25, runCycle() {} };', /bundle could not be loaded: invalid agent manifest/],
    ] as const) {
      const name = `bad-${uniqueSuffix()}`;
      const { outcomes } = await handler(await upload(name, '1.0.0', src));
      expect(outcomes).toEqual([
        { kind: 'rejected', key: bundleKey(name, '1.0.0'), reason: 'bad_manifest', message: expect.stringMatching(why) },
      ]);
      expect(await registry.get(name)).toBeNull();
      await bus.idle();
      expect(
        published.filter((e) => e.topic === 'bundle.rejected' && e.payload.key === bundleKey(name, '1.0.0')).map((e) => e.payload.reason),
      ).toEqual(['bad_manifest']);
    }
  });

  const hostFailures: [string, () => WorkerSandbox, RegExp][] = [
    [
      'a worker that cannot start (heap limit too small)',
      () => createTestInspector({ memoryMb: STARVED_HEAP_MB }),
      /^the inspector ran out of memory|^the inspector's worker thread failed to start/,
    ],
  ];
  for (const [title, broken, message] of hostFailures) {
    it(`${title}: the handler throws InspectionUnavailableError, nothing is rejected; the redelivery registers it`, async () => {
      const name = `host-${uniqueSuffix()}`;
      const event = await upload(name, '1.0.0', agentSrc('host'));
      await bus.idle();
      const before = published.length;
      const err = await handlerWith(broken())(event).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InspectionUnavailableError);
      expect((err as Error).message).toMatch(message);
      expect(await registry.get(name)).toBeNull();
      await bus.idle();
      expect(published.slice(before)).toEqual([]);
      // EventBridge (or the local bus) delivers the event again; on a healthy host it registers
      expect((await handlerWith(createTestInspector())(event)).outcomes).toMatchObject([{ kind: 'registered', name, version: '1.0.0' }]);
      expect((await registry.get(name))?.status).toBe('active');
    });
  }
});
