// A peer answering nonsense is one failed peer with a clear error: the others of the same detection are
// still caught up, and it is not marked reachable.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { call, tableRows, useTwoNodes, writeRows } from './two-nodes.ts';

const pair = await useTwoNodes('answers', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '60' });
const { a } = pair;
const apiA = call(a, pair.specA.key);

/** A peer that answers every request with 200 {"ok":true}. */
const fake = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});
await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
afterAll(() => new Promise((resolve) => fake.close(resolve)));
const fakeId = (
  await a.ctx.db.syncServer.create({ data: { name: 'answers-fake', host: '127.0.0.1', port: (fake.address() as AddressInfo).port, apiKey: 'some-key' } })
).id;

describe('a peer answering ping with {"ok":true}', () => {
  it('is reported unreachable with the validation error, and the other peer is still caught up', async () => {
    await writeRows(a, 20, 'from a');
    await writeRows(pair.b!, 10, 'from b');

    const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const scan = (await res.json()) as { servers_processed: number; results: CatchupResult[] };
    expect(scan.servers_processed).toBe(2);
    const forB = scan.results.find((r) => r.server_id === pair.bServerIdOnA)!;
    const forFake = scan.results.find((r) => r.server_id === fakeId)!;
    expect(forB.success).toBe(true);
    expect(forB.database_changes).toMatchObject({ sent: 20, received: 10 });
    expect(forFake.success).toBe(false);
    expect(forFake.errors).toHaveLength(1);
    expect(forFake.errors[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+ \(ping\) answered an invalid response: node_id: .*latest_sequence: .*server_time: /);

    expect(await tableRows(pair.b!)).toEqual(await tableRows(a));
    expect(await tableRows(a)).toHaveLength(30);

    const row = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: fakeId } });
    expect(row.pingSuccess).toBe(false);
    expect(row.lastError).toBe(forFake.errors[0]);
    expect(row.peerNodeId).toBeNull();
  }, 90_000);
});
