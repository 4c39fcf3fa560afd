/**
 * The dashboard in headless Chromium (Debian `chromium` through playwright-core): it loads from
 * the API's local listener, takes the token, shows an agent published through the hot directory
 * (s3rver → AgentManager with the real sandbox inspector → registry), shows live events from the
 * stream (summarised, the payload one click away) and the cycle-duration chart, and a click on
 * Pause pauses the agent (the registry says so, the notice says it worked). At 1400 px every
 * action button shows its whole label; chart colours are the same after a reload and the chart
 * starts from the ledger's recent cycles. A screenshot goes to tests/artifacts/dashboard.png.
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
import { orchestratorEvent } from '../../shared/core/events';
import { makeEnvelope } from '../../shared/core/envelope';
import { registration } from '../runtime/helpers';
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

    // the feed says what happened, not raw JSON; the payload is one click away
    const registered = page.locator('#feed li', { hasText: 'agent.registered' }).first();
    expect(await registered.locator('.what').textContent()).toBe('ticker 1.0.0 registered');
    expect(await registered.locator('pre').isVisible()).toBe(false);
    await registered.locator('summary').click();
    expect(JSON.parse((await registered.locator('pre').textContent()) ?? '')).toMatchObject({ name: 'ticker', version: '1.0.0' });

    // at 1400 px nothing is clipped: the table fits, every action label is whole
    // (a string: the test's TypeScript has no DOM types)
    const fits = await page.evaluate(`(() => {
      const wrap = document.querySelector('.table-wrap');
      const buttons = [...document.querySelectorAll('#agents td.actions button')];
      return {
        table: wrap.scrollWidth <= wrap.clientWidth,
        buttons: buttons.length,
        clipped: buttons.filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent),
      };
    })()`);
    expect(fits).toEqual({ table: true, buttons: 6, clipped: [] });

    await row.locator('button[data-action=pause]').click();
    await expect.poll(() => row.locator('[data-role=status]').textContent()).toBe('paused');
    await expect.poll(() => page.locator('#notice').textContent()).toBe('pause ticker: done');
    expect(await page.locator('#notice').getAttribute('class')).toBe('ok');
    expect((await h.registry.get('ticker'))?.status).toBe('paused');
    await expect.poll(() => page.locator('#feed').textContent()).toContain('agent.paused');
    expect(await row.locator('button[data-action=resume]').isEnabled()).toBe(true);
    expect(await row.locator('button[data-action=pause]').isEnabled()).toBe(false);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    // the detail row: status with its reason, the agent's runtime facts
    await row.locator('button[data-open=ticker]').click();
    const detail = page.locator('#agents tr[data-detail=ticker]');
    await expect.poll(() => detail.textContent()).toContain('paused');
    await expect.poll(() => detail.textContent()).toContain('5 s / 30 s');

    // cycles in the ledger (one of an agent not on this page, one 1 s timeout among 5 ms cycles)
    const at = Date.now();
    const run = { version: '1.0.0', kind: 'cycle' as const, cycle: 1, generation: 0 };
    await h.bus.publish([
      orchestratorEvent('agent.cycle', { ...run, name: 'historic', runId: 'h1', outcome: 'ok', durationMs: 5, published: 0 }, at),
      orchestratorEvent('agent.cycle', { ...run, name: 'historic', runId: 'h2', outcome: 'ok', durationMs: 6, published: 0 }, at),
      orchestratorEvent(
        'agent.failed',
        { ...run, name: 'historic', runId: 'h3', outcome: 'timeout', durationMs: 1000, error: 'timed out', consecutiveErrors: 1 },
        at,
      ),
    ]);
    // more events than the stream's backlog (20) after them
    await h.bus.publish(Array.from({ length: 30 }, (_, i) => makeEnvelope({ topic: 'filler', sender: 'tester', payload: { i } }, at)));
    await h.bus.idle();
    await expect.poll(() => page.locator('#legend').textContent()).toContain('historic');
    const color = () => page.locator('#legend span', { hasText: 'historic' }).getAttribute('data-color');
    const before = await color();
    expect(before).toMatch(/^#[0-9a-f]{6}$/);

    // the token survives a reload (localStorage); the chart starts from the ledger's recent
    // cycles (the stream's backlog alone would not reach them) with the same colours
    await page.reload();
    await expect.poll(() => page.locator('#agents tr[data-agent="ticker"] [data-role=status]').textContent()).toBe('paused');
    await expect.poll(() => page.locator('#legend').textContent()).toContain('historic');
    await expect.poll(color).toBe(before);

    expect(problems).toEqual([]);
    await page.close();
  });

  it('at fleet size: the summary, a name filter, paging, and an agent error stack and log lines', async () => {
    // 60 more agents (a page is 50): fleet-000 … fleet-059, one of them failing with a stack
    for (let i = 0; i < 60; i++)
      await h.registry.register(registration(`fleet-${String(i).padStart(3, '0')}`, { cycleSeconds: 60, firstRunAt: Date.now() + 60_000 }));
    const stack = 'TypeError: boom\n    at Object.runCycle (agents/fleet-007/1.0.0.mjs:3:11)';
    await h.heartbeats.complete('fleet-007', {
      runId: 'f1',
      at: Date.now(),
      outcome: 'error',
      error: 'TypeError: boom',
      stack,
      version: '1.0.0',
      durationMs: 4,
      generation: 0,
      stateChanges: {},
      expectBy: null,
      countsAsCycle: true,
    });
    await h.heartbeats.putRunLog('fleet-007', {
      runId: 'f1',
      kind: 'cycle',
      cycle: 1,
      version: '1.0.0',
      at: Date.now(),
      lines: [{ ts: new Date().toISOString(), level: 'warn', msg: 'about to fail' }],
    });

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(h.url + '/');
    await page.fill('#token', h.token);
    await page.click('#token-form button[type=submit]');

    // the summary line comes from GET /agents/summary
    const summary = await h.api('/agents/summary').then((r) => r.json() as Promise<{ total: number; erroring: number }>);
    expect(summary.total).toBeGreaterThanOrEqual(61);
    await expect.poll(() => page.locator('#summary [data-summary=agents] b').textContent()).toBe(String(summary.total));
    await expect.poll(() => page.locator('#summary [data-summary=erroring] b').textContent()).toBe(String(summary.erroring));

    // one page of 50, then the next page through the cursor, then back
    const rows = page.locator('#agents tr[data-agent]');
    await expect.poll(() => rows.count()).toBe(50);
    const first = await rows.first().getAttribute('data-agent');
    await page.click('#page-next');
    await expect.poll(() => rows.first().getAttribute('data-agent')).not.toBe(first);
    expect(await page.locator('#page-info').textContent()).toContain('page 2');
    await page.click('#page-prev');
    await expect.poll(() => rows.first().getAttribute('data-agent')).toBe(first);

    // a name prefix filters on the server
    await page.fill('#agent-search', 'fleet-00');
    await expect.poll(() => rows.count()).toBe(10);
    expect(await page.locator('#page-next').isDisabled()).toBe(true);
    await page.fill('#agent-search', 'zzz');
    await expect.poll(() => page.locator('#agents tbody').textContent()).toBe('no agents match the filter');
    await page.fill('#agent-search', 'fleet-007');
    await expect.poll(() => rows.count()).toBe(1);

    // the failing agent: its error in the row, its stack and log lines in the detail row
    const row = page.locator('#agents tr[data-agent="fleet-007"]');
    await expect.poll(() => row.locator('[data-role=error]').textContent()).toBe('TypeError: boom');
    await row.locator('button[data-open]').click();
    const detail = page.locator('#agents tr[data-detail="fleet-007"]');
    await expect.poll(() => detail.locator('[data-role=stack]').textContent()).toBe(stack);
    await expect.poll(() => detail.locator('[data-role=logs]').textContent()).toContain('warn about to fail');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-fleet.png'), fullPage: true });
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
