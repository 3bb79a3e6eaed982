// Bull Board behind credentials, loaded in a real headless Chromium.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '@catchup/queue';
import { useApiNodes } from './nodes.ts';

const [node] = await useApiNodes(1, 'board', { ADMIN_USER: 'operator', ADMIN_PASSWORD: 'board-password-123' });

/**
 * The browser: CHROMIUM_PATH when set; on Linux x64 the headless Chromium that npm brings
 * (@sparticuz/chromium, unpacked into the temp folder at first use), so the test needs nothing installed
 * by hand; elsewhere the system's Chromium.
 */
async function browserExecutable(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (process.platform === 'linux' && process.arch === 'x64') return (await import('@sparticuz/chromium')).default.executablePath();
  return '/usr/bin/chromium';
}

describe('Bull Board at /admin/queues', () => {
  it('refuses requests without credentials, or with wrong ones, with 401', async () => {
    const none = await fetch(`${node!.url}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    const wrong = await fetch(`${node!.url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from('operator:nope').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    const api = await fetch(`${node!.url}/admin/queues/api/queues`, { headers: { 'x-api-key': node!.apiKey } });
    expect(api.status).toBe(401);
  });

  it('shows every queue in a browser', async () => {
    const executable = await browserExecutable();
    expect(existsSync(executable), `Chromium expected at ${executable} (set CHROMIUM_PATH)`).toBe(true);
    const browser = await chromium.launch({
      executablePath: executable,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    try {
      const context = await browser.newContext({ httpCredentials: { username: 'operator', password: 'board-password-123' } });
      const page = await context.newPage();
      const response = await page.goto(`${node!.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      for (const name of Object.values(QUEUE_NAMES)) {
        await page.getByText(name, { exact: true }).first().waitFor({ timeout: 20_000 });
      }
      expect(await page.title()).toMatch(/Catch-up Sync/);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
