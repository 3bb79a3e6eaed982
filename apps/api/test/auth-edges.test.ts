// The edges of authentication (issue #18): failed attempts limited per address, the metrics token,
// and Bull Board's own credentials (off without them, never the API key).
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '@catchup/queue';
import { useApiNodes } from './nodes.ts';

const WINDOW_SECONDS = 2;
const [limited] = await useApiNodes(1, 'authlimit', { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS) });
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
const [guarded] = await useApiNodes(1, 'metricstoken', { METRICS_TOKEN, ADMIN_USER: 'operator', ADMIN_PASSWORD: 'board-password-123' });

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const wrongKey = { 'x-api-key': 'not-the-key-0123456789' };

describe('failed authentication is limited per address', () => {
  it('never counts requests with a valid key, nor requests presenting no credential', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, () => limited!.call('/api/sync/ping')));
    expect(answers.map((r) => r.status)).toEqual(Array(60).fill(200));
    for (let i = 0; i < 5; i++) {
      const none = await fetch(`${limited!.url}/api/sync/ping`);
      expect(none.status).toBe(401);
    }
    expect((await limited!.call('/api/sync/ping')).status).toBe(200);
  });

  it('answers 429 with Retry-After to every request of an address after N failures, until the window ends', async () => {
    for (let i = 0; i < 3; i++) expect((await limited!.call('/api/sync/ping', { headers: wrongKey })).status).toBe(401);
    const refused = await limited!.call('/api/sync/ping', { headers: wrongKey });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(((await refused.json()) as { message: string }).message).toMatch(/failed authentications/);
    // The right key too: a blocked address learns nothing from its guesses until the window ends.
    expect((await limited!.call('/api/sync/ping')).status).toBe(429);
    await new Promise((r) => setTimeout(r, (retryAfter + 0.2) * 1000));
    expect((await limited!.call('/api/sync/ping')).status).toBe(200);
    expect((await limited!.call('/api/sync/ping', { headers: wrongKey })).status).toBe(401);
  }, 15_000);
});

describe('/metrics', () => {
  it('is open when METRICS_TOKEN is unset', async () => {
    const res = await fetch(`${limited!.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('catchup_runs_total');
  });

  it('requires Authorization: Bearer METRICS_TOKEN when it is set', async () => {
    const none = await fetch(`${guarded!.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${guarded!.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    // The API key is not the metrics token.
    expect((await fetch(`${guarded!.url}/metrics`, { headers: { authorization: `Bearer ${guarded!.apiKey}` } })).status).toBe(401);
    const ok = await fetch(`${guarded!.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('catchup_runs_total');
  });
});

describe("Bull Board's credentials", () => {
  it('is off without ADMIN_PASSWORD, whatever is presented (the API key included)', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const res = await fetch(`${limited!.url}${path}`, { headers: basic('admin', limited!.apiKey) });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { message: string }).message).toMatch(/ADMIN_PASSWORD/);
    }
  });

  it('takes only its own password, never the API key, and records what it changes', async () => {
    expect((await fetch(`${guarded!.url}/admin/queues/api/queues`, { headers: basic('operator', guarded!.apiKey) })).status).toBe(401);
    expect((await fetch(`${guarded!.url}/admin/queues/api/queues`, { headers: basic('operator', 'board-password-123') })).status).toBe(200);
    const queue = encodeURIComponent(QUEUE_NAMES.prune);
    const paused = await fetch(`${guarded!.url}/admin/queues/api/queues/${queue}/pause`, { method: 'PUT', headers: basic('operator', 'board-password-123') });
    expect(paused.status).toBe(200);
    await fetch(`${guarded!.url}/admin/queues/api/queues/${queue}/resume`, { method: 'PUT', headers: basic('operator', 'board-password-123') });
    // The row is written once the answer is sent.
    await expect
      .poll(async () =>
        (await guarded!.ctx.db.syncLog.findMany({ where: { operation: 'queue changed' }, orderBy: { id: 'asc' } })).map((r) => [
          r.details,
          (r.result as { actor: string }).actor,
        ]),
      )
      .toEqual([
        [`PUT /api/queues/${queue}/pause from Bull Board`, 'bull board'],
        [`PUT /api/queues/${queue}/resume from Bull Board`, 'bull board'],
      ]);
  });
});
