/**
 * Agent Manager against real s3rver and DynamoDB Local, with the real worker-thread sandbox as
 * the inspector (so "no code of a rejected bundle runs" is checked with code that would run).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { AgentManager } from '../../shared/core/manager/service';
import { generateKeyPair, parseTrustedKeys, publicKeyOf, signBundle, type KeyPair } from '../../shared/core/bundle/signing';
import { bundleKey } from '../../shared/core/bundle/identity';
import { handleManagerEvent } from '../../functions/agent-manager/core';
import { toEventBridge } from '../../local/s3-events';
import { createTestTables, startTestS3, tempDir } from '../support/env';
import { RecordingPublisher } from '../support/recording-publisher';
import { createTestInspector } from '../support/inspector';
import { countingS3 } from '../support/counting-s3';

let s3: Awaited<ReturnType<typeof startTestS3>> & { clients: import('../../shared/adapters/aws/clients').AwsClients };
let registry: DynamoRegistry;
let store: S3BundleStore;
let events: RecordingPublisher;
let keyA: KeyPair;
let keyB: KeyPair;
let markers: ReturnType<typeof tempDir>;
let inspector: ReturnType<typeof createTestInspector>;

const enc = (s: string) => new TextEncoder().encode(s);
/** a bundle whose top-level code drops a marker file: if the marker exists, its code ran */
const markerBundle = (marker: string, extra = '') =>
  enc(
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\n${extra}\nexport default { cycleSeconds: 7, async runCycle() {} };\n`,
  );

function managerWith(keys: KeyPair[], maxBytes = 64 * 1024, bundles: S3BundleStore = store) {
  return new AgentManager({
    registry,
    bundles,
    events,
    inspector,
    trustedKeys: parseTrustedKeys(keys.map((k) => k.publicKey).join(',')),
    maxBytes,
  });
}

async function put(key: string, bytes: Uint8Array, metadata: Record<string, string> = {}) {
  await s3.clients.s3.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes, Metadata: metadata }));
}

async function publishSigned(name: string, version: string, bytes: Uint8Array, key: KeyPair) {
  await put(bundleKey(name, version), bytes, {
    signature: signBundle(key.privateKey, name, version, bytes),
    signer: publicKeyOf(key.privateKey),
  });
}

beforeAll(async () => {
  const started = await startTestS3();
  const t = await createTestTables(started.endpoint);
  s3 = Object.assign(started, { clients: t.clients });
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
  store = new S3BundleStore(t.clients.s3, s3.bucket);
  keyA = generateKeyPair();
  keyB = generateKeyPair();
  markers = tempDir('orch-markers-');
  inspector = createTestInspector();
});

afterAll(async () => {
  await s3?.stop();
  markers?.cleanup();
});

beforeEach(() => {
  events = new RecordingPublisher();
});

describe('AgentManager with s3rver + DynamoDB Local', () => {
  it('registers a signed bundle with its declared manifest and writes agent.registered', async () => {
    const m = managerWith([keyA]);
    const marker = join(markers.path, 'ok-1');
    await publishSigned('good', '1.0.0', markerBundle(marker), keyA);
    const out = await m.onObjectCreated(bundleKey('good', '1.0.0'));
    expect(out).toMatchObject({ kind: 'registered', name: 'good', version: '1.0.0', signer: keyA.publicKey });
    expect(await registry.get('good')).toMatchObject({ version: '1.0.0', cycleSeconds: 7, status: 'active', signer: keyA.publicKey });
    expect(events.last('agent.registered')?.payload).toMatchObject({ name: 'good', version: '1.0.0', previousVersion: null });
    // positive control for the marker tests below: a verified bundle's code does run (in the sandbox)
    expect(existsSync(marker)).toBe(true);
  });

  it('a duplicate delivery of the same object is a no-op, not a rollback', async () => {
    const m = managerWith([keyA]);
    const out = await m.onObjectCreated(bundleKey('good', '1.0.0'));
    expect(out).toEqual({ kind: 'unchanged', name: 'good', version: '1.0.0' });
    expect(events.envelopes).toEqual([]);
  });

  const cases: { title: string; reason: string; setup: (marker: string) => Promise<string> }[] = [
    {
      title: 'tampered bytes',
      reason: 'bad_signature',
      setup: async (marker) => {
        const original = markerBundle(marker);
        const sig = signBundle(keyA.privateKey, 'good', '2.0.0', original);
        await put(bundleKey('good', '2.0.0'), markerBundle(marker, '// tampered'), { signature: sig, signer: keyA.publicKey });
        return bundleKey('good', '2.0.0');
      },
    },
    {
      title: 'a signature by an untrusted key',
      reason: 'bad_signature',
      setup: async (marker) => {
        const stranger = generateKeyPair();
        const bytes = markerBundle(marker);
        await put(bundleKey('good', '2.0.1'), bytes, { signature: signBundle(stranger.privateKey, 'good', '2.0.1', bytes) });
        return bundleKey('good', '2.0.1');
      },
    },
    {
      title: 'an untrusted key that names itself',
      reason: 'unknown_key',
      setup: async (marker) => {
        const stranger = generateKeyPair();
        await publishSigned('good', '2.0.2', markerBundle(marker), stranger);
        return bundleKey('good', '2.0.2');
      },
    },
    {
      title: 'a missing signature while keys are configured',
      reason: 'missing_signature',
      setup: async (marker) => {
        await put(bundleKey('good', '2.0.3'), markerBundle(marker));
        return bundleKey('good', '2.0.3');
      },
    },
    {
      title: 'an older version',
      reason: 'not_newer',
      setup: async (marker) => {
        await publishSigned('good', '0.9.0', markerBundle(marker), keyA);
        return bundleKey('good', '0.9.0');
      },
    },
    {
      title: 'the same version with other content',
      reason: 'not_newer',
      setup: async (marker) => {
        await publishSigned('good', '1.0.0', markerBundle(marker, '// other content'), keyA);
        return bundleKey('good', '1.0.0');
      },
    },
    {
      title: 'a name that does not match the contract pattern',
      reason: 'bad_name',
      setup: async (marker) => {
        const bytes = markerBundle(marker);
        await put('agents/Bad_Name/1.0.0.mjs', bytes, { signature: signBundle(keyA.privateKey, 'Bad_Name', '1.0.0', bytes) });
        return 'agents/Bad_Name/1.0.0.mjs';
      },
    },
    {
      title: 'a file over the size limit',
      reason: 'too_large',
      setup: async (marker) => {
        await publishSigned('good', '3.0.0', markerBundle(marker, `// ${'x'.repeat(70 * 1024)}`), keyA);
        return bundleKey('good', '3.0.0');
      },
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.title} (${c.reason}): ledger event, active version untouched, no bundle code ran`, async () => {
      const m = managerWith([keyA]);
      const before = await registry.get('good');
      const marker = join(markers.path, `rejected-${c.reason}-${Math.random().toString(36).slice(2)}`);
      const key = await c.setup(marker);
      // delivered as the cloud delivers it: an EventBridge "Object Created" event through the handler core
      const ev = toEventBridge({
        eventName: 'ObjectCreated:Put',
        eventTime: new Date().toISOString(),
        s3: { bucket: { name: s3.bucket }, object: { key } },
      });
      const [out] = await handleManagerEvent(m, ev, s3.bucket);
      expect(out).toMatchObject({ kind: 'rejected', reason: c.reason, key });
      const ev2 = events.last('bundle.rejected');
      expect(ev2?.sender).toBe('orchestrator');
      expect(ev2?.payload).toMatchObject({ key, reason: c.reason });
      expect(String(ev2?.payload.message)).not.toBe('');
      expect(await registry.get('good')).toEqual(before);
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('key rotation: bundles signed by either trusted key load; dropping a key rejects new bundles signed by it', async () => {
    const both = managerWith([keyA, keyB]);
    await publishSigned('rot', '1.0.0', enc('export default { runCycle() {} }'), keyA);
    await publishSigned('rot', '1.1.0', enc('export default { runCycle() {} } // b'), keyB);
    expect(await both.onObjectCreated(bundleKey('rot', '1.0.0'))).toMatchObject({ kind: 'registered', signer: keyA.publicKey });
    expect(await both.onObjectCreated(bundleKey('rot', '1.1.0'))).toMatchObject({ kind: 'registered', signer: keyB.publicKey });
    const onlyB = managerWith([keyB]);
    await publishSigned('rot', '1.2.0', enc('export default { runCycle() {} } // a again'), keyA);
    expect(await onlyB.onObjectCreated(bundleKey('rot', '1.2.0'))).toMatchObject({ kind: 'rejected', reason: 'unknown_key' });
    expect((await registry.get('rot'))?.version).toBe('1.1.0');
  });

  it('accepts a signature from a .sig sidecar, also when the sidecar arrives second', async () => {
    const m = managerWith([keyA]);
    const bytes = enc('export default { runCycle() {} } // sidecar');
    await put(bundleKey('side', '1.0.0'), bytes);
    expect(await m.onObjectCreated(bundleKey('side', '1.0.0'))).toMatchObject({ kind: 'rejected', reason: 'missing_signature' });
    await put(bundleKey('side', '1.0.0') + '.sig', enc(signBundle(keyA.privateKey, 'side', '1.0.0', bytes) + '\n'));
    expect(await m.onObjectCreated(bundleKey('side', '1.0.0') + '.sig')).toMatchObject({ kind: 'registered', name: 'side' });
  });

  it('rejects a bundle whose default export is not an agent (bad_manifest)', async () => {
    const m = managerWith([keyA]);
    await publishSigned('broken', '1.0.0', enc('export default 42;'), keyA);
    expect(await m.onObjectCreated(bundleKey('broken', '1.0.0'))).toMatchObject({ kind: 'rejected', reason: 'bad_manifest' });
    expect(await registry.get('broken')).toBeNull();
  });

  it('with no trusted keys, loads unverified and writes bundle.unverified', async () => {
    const m = managerWith([]);
    await put(bundleKey('loose', '1.0.0'), enc('export default { runCycle() {} }'));
    expect(await m.onObjectCreated(bundleKey('loose', '1.0.0'))).toMatchObject({ kind: 'registered', signer: null });
    expect(events.topics()).toEqual(['bundle.unverified', 'agent.registered']);
  });

  it('deleting the active bundle deregisters the agent; deleting another version does not', async () => {
    const m = managerWith([keyA]);
    await publishSigned('gone', '1.0.0', enc('export default { runCycle() {} }'), keyA);
    await m.onObjectCreated(bundleKey('gone', '1.0.0'));
    expect(await m.onObjectDeleted(bundleKey('gone', '0.1.0'))).toMatchObject({ kind: 'ignored' });
    await s3.clients.s3.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: bundleKey('gone', '1.0.0') }));
    expect(await m.onObjectDeleted(bundleKey('gone', '1.0.0'))).toEqual({ kind: 'deregistered', name: 'gone', version: '1.0.0' });
    expect(await registry.get('gone')).toBeNull();
    expect(events.last('agent.deregistered')?.payload).toMatchObject({ name: 'gone', version: '1.0.0' });
  });

  it('rescan registers the newest valid version of each agent and skips a bad newest one', async () => {
    const m = managerWith([keyA]);
    await publishSigned('scan', '1.0.0', enc('export default { runCycle() {} } // 1'), keyA);
    await publishSigned('scan', '1.5.0', enc('export default { runCycle() {} } // 1.5'), keyA);
    await put(bundleKey('scan', '2.0.0'), enc('export default { runCycle() {} } // unsigned'));
    const outs = await m.rescan();
    expect(outs.filter((o) => 'key' in o && o.key === bundleKey('scan', '2.0.0'))).toMatchObject([
      { kind: 'rejected', reason: 'missing_signature' },
    ]);
    expect((await registry.get('scan'))?.version).toBe('1.5.0');
  });
});

describe('bounded bundle reads (issue #10, item 3): one GET, read no further than the limit', () => {
  const LIMIT = 64 * 1024;
  /** a validly signed bundle of about `size` bytes (a comment pads it) */
  const bigBundle = (name: string, version: string, size: number) =>
    enc(`export default { runCycle() {} }; // ${name}@${version}\n/*${'x'.repeat(size)}*/\n`);

  async function expectRejected(out: Awaited<ReturnType<AgentManager['onObjectCreated']>>, key: string, reason: string) {
    expect(out).toMatchObject({ kind: 'rejected', key, reason });
    const ev = events.last('bundle.rejected');
    expect(ev?.sender).toBe('orchestrator');
    expect(ev?.payload).toMatchObject({ key, reason });
  }

  it('positive control: the counting client sees every byte of a bundle that is read whole', async () => {
    const counting = countingS3(s3.endpoint);
    const m = managerWith([keyA], LIMIT, new S3BundleStore(counting.client, s3.bucket));
    const bytes = bigBundle('bounded', '1.0.0', 20 * 1024);
    await publishSigned('bounded', '1.0.0', bytes, keyA);
    expect(await m.onObjectCreated(bundleKey('bounded', '1.0.0'))).toMatchObject({ kind: 'registered', name: 'bounded' });
    expect(counting.bytes()).toBeGreaterThanOrEqual(bytes.byteLength);
  });

  it('an object replaced by one 64× the limit after its event (the event says it is small): too_large, and the read stopped early', async () => {
    const counting = countingS3(s3.endpoint);
    const m = managerWith([keyA], LIMIT, new S3BundleStore(counting.client, s3.bucket));
    const before = await registry.get('bounded');
    const key = bundleKey('bounded', '2.0.0');
    const small = bigBundle('bounded', '2.0.0', 1024);
    // the event was for a small object; by the time the manager reads it, a 4 MB one (validly signed) replaced it
    await publishSigned('bounded', '2.0.0', bigBundle('bounded', '2.0.0', 64 * LIMIT), keyA);
    const out = await m.onObjectCreated(key, small.byteLength);
    await expectRejected(out, key, 'too_large');
    expect(counting.bytes()).toBeLessThan(16 * LIMIT);
    expect(await registry.get('bounded')).toEqual(before);
  });

  it('a response without a Content-Length: the body is read only up to the limit (too_large), then the stream is destroyed', async () => {
    const counting = countingS3(s3.endpoint, { stripLength: true });
    const m = managerWith([keyA], LIMIT, new S3BundleStore(counting.client, s3.bucket));
    const before = await registry.get('bounded');
    const key = bundleKey('bounded', '3.0.0');
    await publishSigned('bounded', '3.0.0', bigBundle('bounded', '3.0.0', 64 * LIMIT), keyA);
    await expectRejected(await m.onObjectCreated(key), key, 'too_large');
    expect(counting.bytes()).toBeLessThan(16 * LIMIT);
    expect(await registry.get('bounded')).toEqual(before);
  });

  it('a .sig sidecar of 1 MB is read no further than 512 bytes: malformed_signature', async () => {
    const counting = countingS3(s3.endpoint, { stripLength: true });
    const m = managerWith([keyA], LIMIT, new S3BundleStore(counting.client, s3.bucket));
    const key = bundleKey('bounded', '4.0.0');
    const bytes = bigBundle('bounded', '4.0.0', 100);
    await put(key, bytes);
    const sig = signBundle(keyA.privateKey, 'bounded', '4.0.0', bytes);
    await put(key + '.sig', enc(`${sig}\n${' '.repeat(1024 * 1024)}`));
    await expectRejected(await m.onObjectCreated(key), key, 'malformed_signature');
    expect(counting.bytes()).toBeLessThan(bytes.byteLength + 256 * 1024);
  });
});
