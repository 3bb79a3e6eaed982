// Bull Board behind credentials, loaded in a real headless Chromium.
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '@catchup/queue';
import { BROWSER_ARGS, browserExecutable } from './browser.ts';
import { useApiNodes } from './nodes.ts';

const [node] = await useApiNodes(1, 'board', { ADMIN_USER: 'operator', ADMIN_PASSWORD: 'board-password-123' });

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
    const browser = await chromium.launch({ executablePath: await browserExecutable(), args: BROWSER_ARGS });
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
