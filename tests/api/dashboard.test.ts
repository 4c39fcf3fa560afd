/**
 * The dashboard in headless Chromium (Debian `chromium` through playwright-core): it loads from
 * the API's local listener, takes the token, shows an agent published through the hot directory
 * (s3rver → AgentManager with the real sandbox inspector → registry), shows live events from the
 * stream and the cycle-duration chart, and a click on Pause pauses the agent (the registry says
 * so). A screenshot goes to tests/artifacts/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { AgentManager } from '../../shared/core/manager/service';
import { generateKeyPair, parseTrustedKeys, publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { bundleKey } from '../../shared/core/bundle/identity';
import { createClients } from '../../shared/adapters/aws/clients';
import { startTestS3 } from '../support/env';
import { createTestInspector } from '../support/inspector';
import { startApiHarness, type ApiHarness } from './harness';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

let h: ApiHarness;
let s3: Awaited<ReturnType<typeof startTestS3>>;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  h = await startApiHarness();
  s3 = await startTestS3();
  // publish a signed bundle to the hot directory and let the manager register it
  const key = generateKeyPair();
  const store = new S3BundleStore(
    createClients({ region: 'us-east-1', endpoints: { s3: s3.endpoint }, localCredentials: true }).s3,
    s3.bucket,
  );
  const bytes = new TextEncoder().encode('export default { cycleSeconds: 5, async runCycle(ctx) { ctx.log("tick"); } };\n');
  await store.put(bundleKey('ticker', '1.0.0'), bytes, {
    signature: signBundle(key.privateKey, 'ticker', '1.0.0', bytes),
    signer: publicKeyOf(key.privateKey),
  });
  const manager = new AgentManager({
    registry: h.registry,
    bundles: store,
    events: h.bus,
    inspector: createTestInspector(),
    trustedKeys: parseTrustedKeys(key.publicKey),
    maxBytes: 1 << 20,
  });
  expect((await manager.onObjectCreated(bundleKey('ticker', '1.0.0'))).kind).toBe('registered');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await s3?.stop();
});

describe('dashboard', () => {
  it('shows the published agent, live events and durations; Pause pauses it', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));

    await page.goto(h.url + '/');
    await expect.poll(() => page.locator('#notice').textContent()).toContain('Enter the API token');
    await page.fill('#token', h.token);
    await page.click('#token-form button[type=submit]');

    const row = page.locator('#agents tr[data-agent="ticker"]');
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.locator('[data-role=status]').textContent()).toBe('active');
    expect(await row.locator('td').nth(1).textContent()).toBe('1.0.0');

    // cycles finishing (the runner's completion write) show up as counts and in the chart
    // each completion is seen by the page (its own metrics snapshot) before the next one
    for (const [i, ms] of [12, 30, 18].entries()) {
      await h.heartbeats.complete('ticker', {
        runId: `r${ms}`,
        at: Date.now(),
        outcome: 'ok',
        error: null,
        durationMs: ms,
        generation: 0,
        stateChanges: {},
        expectBy: null,
        countsAsCycle: true,
      });
      await expect.poll(() => row.locator('td').nth(5).textContent()).toBe(String(i + 1));
    }
    await expect.poll(() => page.locator('#legend').textContent()).toContain('ticker');
    // the stream delivered the registration event to the live feed
    await expect.poll(() => page.locator('#feed').textContent()).toContain('agent.registered');
    await expect.poll(() => page.locator('#conn').textContent()).toBe('stream: live');

    await row.locator('button[data-action=pause]').click();
    await expect.poll(() => row.locator('[data-role=status]').textContent()).toBe('paused');
    expect((await h.registry.get('ticker'))?.status).toBe('paused');
    await expect.poll(() => page.locator('#feed').textContent()).toContain('agent.paused');
    expect(await row.locator('button[data-action=resume]').isEnabled()).toBe(true);
    expect(await row.locator('button[data-action=pause]').isEnabled()).toBe(false);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    // the token survives a reload (localStorage)
    await page.reload();
    await expect.poll(() => page.locator('#agents tr[data-agent="ticker"] [data-role=status]').textContent()).toBe('paused');

    expect(problems).toEqual([]);
    await page.close();
  });

  it('a wrong token is refused and shown as such', async () => {
    const page = await browser.newPage();
    await page.goto(h.url + '/');
    await page.fill('#token', 'not-the-token-000000');
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.locator('#notice').textContent()).toContain('rejected the token');
    expect(await page.locator('#agents tr[data-agent]').count()).toBe(0);
    await page.close();
  });
});
