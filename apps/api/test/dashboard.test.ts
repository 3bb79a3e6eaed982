// The sync dashboard at /admin/sync over real HTTP (issue #20 item 1): off without ADMIN_PASSWORD, behind
// the admin credentials, listing peers and runs from the node's own data, and its scan post guarded by a
// same-origin check and a CSRF token before it queues a scan the way POST /api/sync/catchup/scan does.
import { describe, expect, it } from 'vitest';
import { ADMIN_OPERATIONS } from '@catchup/engine';
import { issueCsrfToken, TOKEN_LIFETIME_MS, verifyCsrfToken } from '../src/dashboard/csrf.ts';
import { durationChart, niceCeiling } from '../src/dashboard/view.ts';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { writeRows } from './two-nodes.ts';

const ADMIN = { user: 'operator', password: 'dash-password-123' };
const [a, b] = (await useApiNodes(2, 'dash', { ADMIN_USER: ADMIN.user, ADMIN_PASSWORD: ADMIN.password, AUTH_FAILURE_LIMIT: '100' })) as [
  TestApiNode,
  TestApiNode,
];
const [off] = (await useApiNodes(1, 'dash-off')) as [TestApiNode];
// Without workers, what is queued stays queued.
const [idle] = (await useApiNodes(1, 'dash-idle', { ADMIN_USER: ADMIN.user, ADMIN_PASSWORD: ADMIN.password, RUN_WORKERS: 'false' })) as [TestApiNode];

const basic = (user = ADMIN.user, password = ADMIN.password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const page = (path = '/admin/sync', headers: Record<string, string> = {}) => fetch(`${a.url}${path}`, { headers: { authorization: basic(), ...headers } });

/** Posts the scan form as a browser on the dashboard's page would (same origin), with what `form` holds. */
const postScan = (form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${a.url}/admin/sync/scan`, {
    method: 'POST',
    redirect: 'manual',
    // A header given as '' is left out.
    headers: Object.fromEntries(
      Object.entries({
        authorization: basic(),
        'content-type': 'application/x-www-form-urlencoded',
        origin: a.url,
        'sec-fetch-site': 'same-origin',
        ...headers,
      }).filter(([, v]) => v !== ''),
    ),
    body: new URLSearchParams(form).toString(),
  });

const tokenOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;
let serverId = 0;
const scanRequests = async () => a.ctx.db.syncLog.count({ where: { operation: ADMIN_OPERATIONS.scanRequested } });

describe('the sync dashboard without ADMIN_PASSWORD', () => {
  it('is off: every path and method under /admin/sync answers 404 saying how to turn it on', async () => {
    for (const [method, path] of [
      ['GET', '/admin/sync'],
      ['GET', '/admin/sync/live'],
      ['POST', '/admin/sync/scan'],
    ] as const) {
      const res = await fetch(`${off.url}${path}`, { method, headers: { authorization: basic() } });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { message: string }).message).toMatch(/sync dashboard is off: set ADMIN_PASSWORD/);
    }
  });
});

describe('the sync dashboard behind the admin credentials', () => {
  it('answers 401 with a Basic challenge without credentials, with wrong ones and with the API key', async () => {
    const none = await fetch(`${a.url}/admin/sync`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="Catch-up Sync dashboard"');
    expect((await fetch(`${a.url}/admin/sync`, { headers: { authorization: basic(ADMIN.user, 'wrong') } })).status).toBe(401);
    expect((await fetch(`${a.url}/admin/sync`, { headers: { authorization: basic('admin', ADMIN.password) } })).status).toBe(401);
    expect((await fetch(`${a.url}/admin/sync/live`, { headers: { 'x-api-key': a.apiKey } })).status).toBe(401);
    const post = await fetch(`${a.url}/admin/sync/scan`, { method: 'POST', headers: { origin: a.url } });
    expect(post.status).toBe(401);
  });

  it('says no peer is registered and no run has happened on a fresh node', async () => {
    const res = await page();
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('No peers are registered');
    expect(html).toContain('No catch-up has run yet');
    expect(html).toContain('No finished catch-up yet');
  });

  it('lists every peer and a finished run with its outcome, details and duration, and draws it in the chart', async () => {
    await writeRows(a, 20, 'dash');
    serverId = await registerPeer(a, b);
    const scan = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
    expect(scan.status).toBe(200);
    // A second peer that is registered but switched off is listed too.
    const quiet = await a.ctx.db.syncServer.create({
      data: { name: 'quiet-site', host: '127.0.0.1', port: 9, apiKey: 'k', syncEnabled: false, lastError: '<script>alert(1)</script> refused' },
    });

    const res = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    const peerRow = new RegExp(`<tr id="peer-${serverId}">([\\s\\S]*?)</tr>`).exec(html)![1]!;
    expect(peerRow).toContain(b.name);
    expect(peerRow).toContain('reachable');
    expect(peerRow).toContain('level'); // the catch-up sent all 20 changes
    expect(peerRow).toContain('nothing pending');
    expect(peerRow).toMatch(/<td><time datetime="[^"]+" data-dynamic>/); // last sync
    expect(peerRow).toContain(`href="/admin/sync/plan?server_id=${serverId}"`);
    const quietRow = new RegExp(`<tr id="peer-${quiet.id}">([\\s\\S]*?)</tr>`).exec(html)![1]!;
    expect(quietRow).toContain('sync off');
    expect(quietRow).toContain('not measured');
    expect(quietRow).toContain('&lt;script&gt;alert(1)&lt;/script&gt; refused');
    expect(html).not.toContain('<script>alert(1)');
    expect(quietRow).toMatch(/<button type="submit" id="scan-\d+" disabled>/);

    const runs = /<table class="runs">([\s\S]*?)<\/table>/.exec(html)![1]!;
    expect(runs).toContain(b.name);
    expect(runs).toContain('badge-ok">completed');
    expect(runs).toContain('(sent 20, received 0)');
    expect(runs).toMatch(/<span data-dynamic>\d+\.\d+ (s|min)<\/span>/);
    expect(html.match(/<circle /g)).toHaveLength(1);
    expect(html).toContain('1 finished runs from');
    await a.ctx.db.syncServer.delete({ where: { id: quiet.id } });
  });

  it('serves the live part alone, its stylesheet and script', async () => {
    const live = await page('/admin/sync/live');
    expect(live.status).toBe(200);
    const html = await live.text();
    expect(html).toContain(`<tr id="peer-${serverId}">`);
    expect(html).not.toContain('<html');
    const css = await page('/admin/sync/dashboard.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    const js = await page('/admin/sync/dashboard.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("getAttribute('data-src')");
  });

  it('shows the catch-up plan of a peer on demand, and refuses unknown and malformed ids', async () => {
    await writeRows(a, 4, 'plan');
    const res = await page(`/admin/sync/plan?server_id=${serverId}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`Catch-up plan: ${a.name} ⇄ ${b.name}`);
    expect(html).toContain('To send: 4 changes');
    expect(html).toMatch(/<th scope="row">scouting_data<\/th><td class="num">4<\/td>/);
    expect(html).toContain('Files per folder');
    expect((await page('/admin/sync/plan?server_id=99999')).status).toBe(404);
    expect((await page('/admin/sync/plan?server_id=abc')).status).toBe(400);
  });
});

describe('what is in flight', () => {
  it('marks a peer whose catch-up waits in the queue, and says a detection is under way', async () => {
    const peer = await idle.ctx.db.syncServer.create({ data: { name: 'waiting-site', host: '127.0.0.1', port: 9, apiKey: 'k' } });
    const live = async () => (await fetch(`${idle.url}/admin/sync/live`, { headers: { authorization: basic() } })).text();
    let html = await live();
    expect(html).toContain('No catch-up is running.');
    expect(html).not.toContain('A detection is under way.');
    await idle.ctx.queues.add('catchup', { serverId: peer.id, trigger: 'scan' }, { attempts: 1, delayMs: 0 });
    await idle.ctx.queues.add('detect', { trigger: 'scan' }, { attempts: 1, delayMs: 0 });
    html = await live();
    expect(new RegExp(`<tr id="peer-${peer.id}">[\\s\\S]*?badge-idle">queued<`).test(html)).toBe(true);
    expect(html).toContain('1 queued. A detection is under way.');
  });
});

describe('the scan buttons', () => {
  const token = async () => tokenOf(await (await page()).text());

  it('refuse a post without the form token, with a wrong one and with an expired one, queueing nothing', async () => {
    const before = await scanRequests();
    const issued13hAgo = issueCsrfToken(ADMIN, Date.now() - TOKEN_LIFETIME_MS - 3_600_000);
    const otherPassword = issueCsrfToken({ user: ADMIN.user, password: 'another-password' });
    for (const csrf of [undefined, '', 'nonsense', `${Date.now()}.${'A'.repeat(43)}`, issued13hAgo, otherPassword]) {
      const res = await postScan(csrf === undefined ? {} : { csrf });
      expect(res.status, String(csrf)).toBe(403);
      expect(await res.text()).toContain('form token is missing, wrong or expired');
    }
    expect(await scanRequests()).toBe(before);
  });

  it('refuse a cross-origin post even with a valid token (Origin, Sec-Fetch-Site, Referer)', async () => {
    const before = await scanRequests();
    const csrf = await token();
    const attempts: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: '', 'sec-fetch-site': '', referer: 'http://evil.example/page' },
    ];
    for (const headers of attempts) {
      const res = await postScan({ csrf }, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(await res.text()).toContain('not by this dashboard');
    }
    expect(await scanRequests()).toBe(before);
  });

  it('queue a scan of one peer through the scan route’s own path: a detect job and an audit row by the dashboard', async () => {
    const csrf = await token();
    const res = await postScan({ csrf, server_id: String(serverId) });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    const job = /^\/admin\/sync\?notice=scan&job=(\d+)$/.exec(location)![1]!;
    expect(await a.ctx.queues.jobStatus('detect', job)).toBeDefined();
    const audit = await a.ctx.db.syncLog.findFirst({ where: { operation: ADMIN_OPERATIONS.scanRequested }, orderBy: { id: 'desc' } });
    expect(audit).toMatchObject({ details: `Scan requested for server(s) ${serverId}` });
    expect(audit!.result).toMatchObject({ actor: 'sync dashboard', detect_job_id: job });
    const shown = await (await page(location)).text();
    expect(shown).toContain(`Scan requested (detection job <span data-dynamic>${job}</span>)`);
  });

  it('queue a scan of every peer without server_id, also from a client that sends no Origin (curl, with the token)', async () => {
    const csrf = await token();
    const res = await postScan({ csrf }, { origin: '', 'sec-fetch-site': '' });
    expect(res.status).toBe(303);
    const audit = await a.ctx.db.syncLog.findFirst({ where: { operation: ADMIN_OPERATIONS.scanRequested }, orderBy: { id: 'desc' } });
    expect(audit).toMatchObject({ details: 'Scan requested for every peer' });
  });

  it('answer 404 for an unknown peer and 400 for a malformed id, queueing nothing', async () => {
    const csrf = await token();
    const before = await scanRequests();
    const unknown = await postScan({ csrf, server_id: '99999' });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('Server 99999 not found');
    expect((await postScan({ csrf, server_id: 'x1' })).status).toBe(400);
    expect(await scanRequests()).toBe(before);
  });

  it('queue nothing while catch-up is disabled, and say so on the page', async () => {
    const csrf = await token();
    expect((await a.call('/api/sync/config', { method: 'PUT', json: { catchup_enabled: false } })).status).toBe(200);
    try {
      const before = await scanRequests();
      const res = await postScan({ csrf, server_id: String(serverId) });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/sync?notice=disabled');
      expect(await scanRequests()).toBe(before);
      expect(await (await page('/admin/sync?notice=disabled')).text()).toContain('Catch-up is disabled');
    } finally {
      await a.call('/api/sync/config', { method: 'PUT', json: { catchup_enabled: true } });
    }
  });
});

describe('dashboard parts', () => {
  it('CSRF tokens are accepted for 12 hours with the credentials that issued them', () => {
    // Issued per hour: a token from 10:30 counts from 10:00.
    const now = Date.UTC(2026, 0, 1, 10, 0);
    const token = issueCsrfToken(ADMIN, now + 1_800_000);
    expect(token).toBe(issueCsrfToken(ADMIN, now));
    expect(verifyCsrfToken(ADMIN, token, now)).toBe(true);
    expect(verifyCsrfToken(ADMIN, token, now + TOKEN_LIFETIME_MS - 1)).toBe(true);
    expect(verifyCsrfToken(ADMIN, token, now + TOKEN_LIFETIME_MS + 3_600_000)).toBe(false);
    expect(verifyCsrfToken({ ...ADMIN, user: 'other' }, token, now)).toBe(false);
    expect(verifyCsrfToken(ADMIN, 42, now)).toBe(false);
    // Issued "in the future" (a forged time) is refused.
    expect(verifyCsrfToken(ADMIN, issueCsrfToken(ADMIN, now + 7_200_000), now)).toBe(false);
  });

  it('the duration chart places runs by time and seconds, on a round scale', () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(0.37)).toBe(0.5);
    expect(niceCeiling(3.2)).toBe(5);
    expect(niceCeiling(170)).toBe(200);
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 10, m));
    const svg = durationChart([
      { at: at(0), seconds: 2, status: 'completed', serverName: 'b' },
      { at: at(30), seconds: 4, status: 'failed', serverName: 'b' },
      { at: at(60), seconds: 1, status: 'partial', serverName: null },
    ]);
    // x from 56 to 744, y from 184 (0 s) to 16 (5 s: the scale's top).
    expect(svg).toContain('<polyline points="56.0,116.8 400.0,49.6 744.0,150.4"');
    expect(svg).toContain('class="dot dot-bad"><title>2026-01-01 10:30:00 UTC, b: 4.00 s, failed</title>');
    expect(svg).toContain('removed peer: 1.00 s, partial');
    expect(svg).toContain('3 finished runs from 2026-01-01 10:00 to 2026-01-01 11:00 UTC; the longest took 4.00 s.');
  });
});
