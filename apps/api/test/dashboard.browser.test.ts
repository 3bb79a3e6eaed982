// The sync dashboard in a real browser (issue #20 item 1): headless Chromium (browser.ts), driven by
// playwright-core, against two real nodes. The page renders the peer and a finished run, a scan button
// (pressed from the keyboard) starts a catch-up that the page shows without a reload, and a screenshot
// compared with a committed baseline guards the layout.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pixelmatch from 'pixelmatch';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_ARGS, browserExecutable } from './browser.ts';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { freePort, until, writeRows } from './two-nodes.ts';

const ADMIN = { username: 'operator', password: 'browser-password-123' };
const BASELINE = path.join(import.meta.dirname, '__screenshots__', 'dashboard.png');
/** UPDATE_SCREENSHOTS=1 writes the baseline (and the README's docs/dashboard.png) instead of comparing. */
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';
/** Pixels may differ this much (per-pixel colour distance, pixelmatch's threshold) and this often (share of all pixels). */
const PIXEL_THRESHOLD = 0.1;
const MAX_DIFFERING_SHARE = 0.005;

const [a, b] = (await useApiNodes(2, 'dashui', { ADMIN_USER: ADMIN.username, ADMIN_PASSWORD: ADMIN.password })) as [TestApiNode, TestApiNode];

let context: BrowserContext;
let page: Page;
let profile: string;
let serverId = 0;

/** The README's picture (docs/dashboard.png), taken unmasked with a second peer that is offline. */
async function readmeScreenshot(): Promise<void> {
  await registerPeer(a, { ...b, name: 'site-offline', url: `http://127.0.0.1:${await freePort()}` } as TestApiNode);
  await writeRows(a, 3, 'for the offline site');
  await a.call('/api/sync/catchup/scan', { method: 'POST', json: {} });
  await page.goto(`${a.url}/admin/sync`);
  await page.screenshot({ path: path.join(import.meta.dirname, '..', '..', '..', 'docs', 'dashboard.png'), fullPage: true });
}

const catchupRuns = () => a.ctx.db.syncLog.count({ where: { operation: 'catch-up sync' } });

beforeAll(async () => {
  const executablePath = await browserExecutable();
  // A peer with a finished catch-up: 20 changes sent.
  await writeRows(a, 20, 'browser');
  serverId = await registerPeer(a, b);
  const scan = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
  expect(scan.status).toBe(200);
  expect(await catchupRuns()).toBe(1);

  profile = await mkdtemp(path.join(tmpdir(), 'catchup-chromium-'));
  // A fresh profile.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: BROWSER_ARGS,
    httpCredentials: ADMIN,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    reducedMotion: 'reduce',
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('the sync dashboard in Chromium', () => {
  it('renders the peer and the finished run', async () => {
    const response = await page.goto(`${a.url}/admin/sync`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe(`Sync dashboard · ${a.name}`);
    const peer = page.getByRole('row', { name: new RegExp(b.name) }).first();
    await expect.poll(() => peer.isVisible()).toBe(true);
    expect(await peer.getByText('reachable', { exact: true }).isVisible()).toBe(true);
    expect(await peer.getByText('level', { exact: true }).isVisible()).toBe(true);
    const runs = page.getByRole('table', { name: 'Recent catch-up runs' });
    expect(await runs.getByRole('row').count()).toBe(2); // header and the one run
    expect(await runs.getByText('completed').isVisible()).toBe(true);
    expect(await runs.getByText('(sent 20, received 0)').isVisible()).toBe(true);
    expect(await page.getByRole('img', { name: /Catch-up durations over time/ }).isVisible()).toBe(true);
    expect(await page.locator('svg.chart circle').count()).toBe(1);
  });

  it('looks as the committed baseline does (times, durations, addresses and the chart masked)', async () => {
    await page.goto(`${a.url}/admin/sync`);
    const shot = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide', mask: [page.locator('[data-dynamic]')], maskColor: '#ff00ff' });
    if (UPDATE) {
      await mkdir(path.dirname(BASELINE), { recursive: true });
      await writeFile(BASELINE, shot);
      return;
    }
    if (!existsSync(BASELINE)) throw new Error(`no baseline at ${BASELINE}: run this test with UPDATE_SCREENSHOTS=1 once and commit it`);
    const expected = PNG.sync.read(await readFile(BASELINE));
    const actual = PNG.sync.read(shot);
    const out = path.join(process.cwd(), '.test-results', 'screenshots');
    const keep = async () => {
      await mkdir(out, { recursive: true });
      await writeFile(path.join(out, 'dashboard.actual.png'), shot);
    };
    if (actual.width !== expected.width || actual.height !== expected.height) {
      await keep();
      throw new Error(
        `the dashboard is ${actual.width}×${actual.height} px, the baseline ${expected.width}×${expected.height} (actual in ${out}; UPDATE_SCREENSHOTS=1 to accept)`,
      );
    }
    const diff = new PNG({ width: actual.width, height: actual.height });
    const differing = pixelmatch(expected.data, actual.data, diff.data, actual.width, actual.height, { threshold: PIXEL_THRESHOLD });
    const share = differing / (actual.width * actual.height);
    if (share > MAX_DIFFERING_SHARE) {
      await keep();
      await writeFile(path.join(out, 'dashboard.diff.png'), PNG.sync.write(diff));
      throw new Error(
        `${differing} pixels (${(share * 100).toFixed(2)} %) differ from the baseline; see ${out} (UPDATE_SCREENSHOTS=1 to accept a wanted change)`,
      );
    }
  });

  it('starts a scan from its button, pressed from the keyboard, and shows the new run without a reload', async () => {
    await writeRows(a, 5, 'browser more');
    await page.goto(`${a.url}/admin/sync`);
    const button = page.getByRole('button', { name: `Scan ${b.name}` });
    await button.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin\/sync\?notice=scan&job=\d+$/);
    expect(await page.getByRole('status').filter({ hasText: 'Scan requested' }).isVisible()).toBe(true);

    await until('the scan to finish a second catch-up', async () => (await catchupRuns()) === 2, 30_000);
    // The live part updates itself (every 3 s) with the new run and its point in the chart.
    const runs = page.getByRole('table', { name: 'Recent catch-up runs' });
    await expect.poll(() => runs.getByRole('row').count(), { timeout: 15_000 }).toBe(3);
    expect(await runs.getByText('(sent 5, received 0)').isVisible()).toBe(true);
    expect(await page.locator('svg.chart circle').count()).toBe(2);
    expect(await page.evaluate(() => performance.getEntriesByType('navigation' as Parameters<typeof performance.getEntriesByType>[0]).length)).toBe(1); // no reload
    if (UPDATE) await readmeScreenshot();
  }, 90_000);
});
