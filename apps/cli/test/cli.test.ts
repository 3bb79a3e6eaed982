import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { useApiNodes } from '../../api/test/nodes.ts';

const [a, b] = await useApiNodes(2, 'cli');

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { CATCHUP_URL: a!.url, SYNC_API_KEY: a!.apiKey } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run catchup', () => {
  it('adds and lists servers, without showing keys', async () => {
    const port = new URL(b!.url).port;
    const added = await cli('servers', 'add', 'cli-b', '127.0.0.1', port, '--key', b!.apiKey);
    expect(added).toMatchObject({ code: 0, out: expect.stringMatching(/^added server \d+: cli-b at http:\/\/127\.0\.0\.1:\d+$/) });
    const list = await cli('servers', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^id\s+name\s+address/);
    expect(list.out).toMatch(/cli-b\s+http:\/\/127\.0\.0\.1:\d+\s+true\s+set/);
    expect(list.out).not.toContain(b!.apiKey);
  });

  it('shows status with the exact missing count, then scans and reports the run', async () => {
    await a!.ctx.db.team.create({ data: { teamNumber: 254, name: 'Poofs', scoutingTeamNumber: 1 } });
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/cli-b\s+127\.0\.0\.1\s+1\s/);
    const scan = await cli('scan');
    expect(scan.code).toBe(0);
    expect(scan.out).toMatch(/Catch-up scan completed: 1 server\(s\)/);
    expect(scan.out).toMatch(/server\s+ok\s+sent\s+received\s+applied\s+held\s+files up/);
    expect(scan.out).toMatch(/cli-b\s+yes\s+1\s+0\s+0\s+0\s/);
    expect((await cli('status')).out).toMatch(/no peer needs catch-up/);
    // Once pinged, a peer's clock offset is shown (both nodes share this machine's clock).
    await a!.ctx.db.team.create({ data: { teamNumber: 1678, name: 'Citrus', scoutingTeamNumber: 1 } });
    const pinged = (await cli('status')).out;
    expect(pinged).toMatch(/reachable\s+clock offset ms/);
    expect(pinged).toMatch(/cli-b\s+127\.0\.0\.1\s+1\s.*\strue\s+-?\d{1,3}\s*$/m);
    const id = /(\d+)\s+cli-b/.exec((await cli('servers', 'list')).out)![1]!;
    const plan = await cli('plan', '--server', id);
    expect(plan.code).toBe(0);
    expect(plan.out).toMatch(/^cli-b \(server \d+\): reachable\nsend: 1 change\(s\) \(teams 1\)\nreceive: 0 change\(s\)/);
    expect(plan.out).toMatch(/estimate: [\d.]+ s \(the pace of the last 1 run/);
    expect((await cli('plan')).code).not.toBe(0);
    expect((await cli('conflicts')).out).toBe('no row conflict\nno file conflict');
    expect(await cli('conflicts', 'resolve', 'nobody/1', 'winner')).toMatchObject({ code: 1, err: expect.stringMatching(/^404: .*nobody\/1/) });
    expect((await cli('logs')).out).toMatch(/catch-up sync\s+completed\s+Applied 0 database changes/);
  });

  it('warns of a peer about to fall behind retention, and prunes on demand', async () => {
    await a!.ctx.db.team.create({ data: { teamNumber: 971, name: 'Spartan', scoutingTeamNumber: 1 } });
    await a!.ctx.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '25 days'`);
    expect((await cli('status')).out).toMatch(/^cli-b: needs a full baseline in 4\.9 day\(s\) unless caught up \(max_catchup_days 30\)$/m);
    const pruned = await cli('prune');
    expect(pruned.code).toBe(0);
    expect(pruned.out).toMatch(
      /^pruned what is older than \S+: 0 change-log entries \(0 superseded deletes\), 0 file tombstones, \d+ sync logs; log pruned through position 0$/,
    );
  });

  it('lists the audit trail with who did each action; a bad kind is refused naming it', async () => {
    const audit = await cli('logs', '--kind', 'audit');
    expect(audit.code).toBe(0);
    expect(audit.out).toMatch(/^id\s+started\s+server\s+operation\s+status\s+details\s+by$/m);
    expect(audit.out).toMatch(/peer added\s+completed\s+Peer cli-b \(id \d+\) added at http:\/\/127\.0\.0\.1:\d+\s+node api key$/m);
    expect(audit.out).toMatch(/prune\s+completed\s+Pruned .*\s+node api key$/m);
    expect(audit.out).not.toMatch(/catch-up sync/);
    expect(audit.out).not.toContain(b!.apiKey);
    expect((await cli('logs', '--operation', 'scan requested')).out).toMatch(/scan requested\s+completed\s+Scan requested for every peer\s+node api key$/m);
    const bad = await cli('logs', '--kind', 'everything');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/kind/);
  });

  it("pins a peer's TLS certificate fingerprint on add and with servers pin, and unpins it", async () => {
    const fingerprint = 'ab'.repeat(32);
    const written = Array(32).fill('AB').join(':');
    const added = await cli('servers', 'add', 'cli-pinned', '127.0.0.1', '5999', '--tls-fingerprint', fingerprint);
    expect(added).toMatchObject({ code: 0, out: expect.stringMatching(/^added server \d+: cli-pinned at https:\/\/127\.0\.0\.1:5999$/) });
    const id = /added server (\d+)/.exec(added.out)![1]!;
    expect((await a!.ctx.db.syncServer.findUniqueOrThrow({ where: { id: Number(id) } })).tlsFingerprint).toBe(written);
    expect(await cli('servers', 'pin', id, 'none')).toMatchObject({ code: 0, out: `server ${id} unpinned: its certificate is verified by CA` });
    expect(await cli('servers', 'pin', id, written.toLowerCase())).toMatchObject({ code: 0, out: `server ${id} pinned to TLS fingerprint ${written}` });
    expect(await cli('servers', 'pin', id, 'abc')).toMatchObject({ code: 1, err: expect.stringMatching(/^400: .*tls_fingerprint/) });
    expect(await cli('servers', 'remove', id)).toMatchObject({ code: 0 });
  });

  it("sets and clears a peer's team scope with servers teams, shows it in servers list, and refuses a bad list", async () => {
    const added = await cli('servers', 'add', 'cli-team', '127.0.0.1', '5998');
    const id = /added server (\d+)/.exec(added.out)![1]!;
    expect(await cli('servers', 'teams', id, '971,254,254')).toMatchObject({ code: 0, out: `server ${id} (cli-team) may see and write teams 254, 971` });
    expect((await cli('servers', 'list')).out).toMatch(/cli-team .* teams 254, 971 /);
    expect(await cli('servers', 'teams', id, '254,abc')).toMatchObject({ code: 1, err: expect.stringMatching(/^400: .*team_scope/) });
    expect((await a!.ctx.db.syncServer.findUniqueOrThrow({ where: { id: Number(id) } })).teamScope).toEqual([254, 971]);
    expect(await cli('servers', 'teams', id, 'all')).toMatchObject({ code: 0, out: `server ${id} (cli-team) may see and write all teams` });
    expect(await cli('servers', 'compression', id, '0')).toMatchObject({ code: 0, out: `server ${id} (cli-team): no compression` });
    expect(await cli('servers', 'compression', id, '25')).toMatchObject({ code: 1, err: expect.stringMatching(/^400: .*compression_level/) });
    expect(await cli('servers', 'compression', id, 'default')).toMatchObject({ code: 0, out: `server ${id} (cli-team): this node's COMPRESSION_LEVEL` });
    expect(await cli('servers', 'remove', id)).toMatchObject({ code: 0 });
  });

  it('pairs with per-peer credentials: add issuing one, set the key presented, issue with an overlap, list, revoke', async () => {
    const port = new URL(b!.url).port;
    const added = await cli('servers', 'add', 'cli-paired', '127.0.0.1', port, '--issue-credential');
    expect(added.code).toBe(0);
    const [, id, credentialId, token] =
      /^added server (\d+): cli-paired at http:\/\/127\.0\.0\.1:\d+\ncredential cred-(\d+) \(id \d+\) issued for cli-paired; its token, shown only now:\n {2}(cus_\S{43})\n/.exec(
        added.out,
      ) ?? [];
    expect(token, added.out).toBeDefined();
    // The token opens this node's peer API, and only that.
    expect((await fetch(`${a!.url}/api/sync/ping`, { headers: { 'x-api-key': token! } })).status).toBe(200);
    expect((await fetch(`${a!.url}/api/sync/servers`, { headers: { 'x-api-key': token! } })).status).toBe(403);

    expect(await cli('servers', 'key', id!, 'cus_the-token-the-peer-issued')).toMatchObject({
      code: 0,
      out: `server ${id} (cli-paired): the key this node presents to it is set`,
    });
    expect((await a!.ctx.db.syncServer.findUniqueOrThrow({ where: { id: Number(id) } })).apiKey).toBe('cus_the-token-the-peer-issued');

    const rotated = await cli('servers', 'credentials', 'issue', id!, '--expire-others', '3600');
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatch(new RegExp(`^credential cred-\\d+ \\(id \\d+\\) issued for server ${id}; its token, shown only now:\n {2}cus_\\S{43}\n`));
    expect(rotated.out).toMatch(new RegExp(`^cred-${credentialId} \\(id ${credentialId}\\) stays valid until \\d{4}-`, 'm'));
    const listed = await cli('servers', 'credentials', 'list', id!);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^id\s+label\s+state\s+created\s+expires\s+revoked\s+last used$/m);
    expect(listed.out).toMatch(new RegExp(`^${credentialId}\\s+cred-${credentialId}\\s+expiring\\s`, 'm'));
    expect(listed.out).toMatch(/\sactive\s/);
    expect(listed.out).not.toContain(token);

    const revoked = await cli('servers', 'credentials', 'revoke', id!, credentialId!);
    expect(revoked).toMatchObject({
      code: 0,
      out: expect.stringMatching(new RegExp(`^credential cred-${credentialId} \\(id ${credentialId}\\) of server ${id} revoked at \\d{4}-`)),
    });
    expect((await fetch(`${a!.url}/api/sync/ping`, { headers: { 'x-api-key': token! } })).status).toBe(401);
    expect((await cli('logs', '--kind', 'audit')).out).toMatch(
      /credential revoked\s+completed\s+Credential cred-\d+ of peer cli-paired .* revoked\s+node api key$/m,
    );

    expect(await cli('servers', 'credentials', 'revoke', id!)).toMatchObject({
      code: 1,
      err: expect.stringMatching(/needs list ID, issue ID or revoke ID CREDENTIAL_ID/),
    });
    expect(await cli('servers', 'credentials', 'issue', id!, '--expire-others', 'soon')).toMatchObject({
      code: 1,
      err: '--expire-others needs a number of seconds',
    });
    expect(await cli('servers', 'credentials', 'list', '99999')).toMatchObject({ code: 1, err: '404: Server 99999 not found' });
    expect(await cli('servers', 'key', id!)).toMatchObject({ code: 1, err: expect.stringMatching(/servers key needs ID KEY/) });
    expect(await cli('servers', 'remove', id!)).toMatchObject({ code: 0 });
  });

  it('explains bad usage, a wrong key and an unreachable node', async () => {
    expect(await cli('frobnicate')).toMatchObject({ code: 1, err: expect.stringMatching(/unknown command: frobnicate/) });
    expect(await cli('servers', 'add', 'only-name')).toMatchObject({ code: 1, err: expect.stringMatching(/needs NAME HOST PORT/) });
    const wrongKey = await runCli(['status'], {
      out: () => {},
      err: (t) => expect(t).toMatch(/^401: Missing or invalid API key/),
      env: { CATCHUP_URL: a!.url, SYNC_API_KEY: 'wrong-key-wrong-key' },
    });
    expect(wrongKey).toBe(1);
    const errors: string[] = [];
    const down = await runCli(['status'], { out: () => {}, err: (t) => errors.push(t), env: { CATCHUP_URL: 'http://127.0.0.1:1', SYNC_API_KEY: 'k' } });
    expect(down).toBe(1);
    expect(errors[0]).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});
