// A full disk never destroys files (F3, F6, I14): two real nodes, the receiver's DATA_DIR on a real
// 2 MB tmpfs, 5 MB of new files on the sender. Nothing partial is put in place, the sender's originals
// stay intact (no partial version travels back), the failures are reported by name, and once space is
// freed the next catch-up converges to the original content.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { call, useTwoNodes } from './two-nodes.ts';

const big = await mkdtemp(path.join(tmpdir(), 'catchup-disk-big-'));
const small = await mkdtemp(path.join(tmpdir(), 'catchup-disk-small-'));
/** Mounting needs root: where it is refused, the scenario is skipped (and says so), not failed. */
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small], { stdio: 'pipe' });
    return true;
  } catch (err) {
    console.warn(`files-disk-full: skipped, a tmpfs cannot be mounted here (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
    return false;
  }
})();
// Registered before the nodes start, so that it runs after they are closed.
afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', small]);
  for (const d of [big, small]) await rm(d, { recursive: true, force: true });
});
const pair = await useTwoNodes(
  'diskfull',
  { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '120', CATCHUP_RETRY_ATTEMPTS: '2', CATCHUP_RETRY_DELAY_MS: '100' },
  { DATA_DIR: big },
);
await pair.stopB();
pair.specB.env.DATA_DIR = small;
await pair.startB();
const apiA = call(pair.a, pair.specA.key);
const apiB = () => call(pair.b!, pair.specB.key);

// 5 MB: files of 1 MB and more are refused up front when they cannot fit; the smaller ones are written
// until the disk is full (short writes, then ENOSPC).
const sizes: Record<string, number> = { 'f1.bin': 1024 * 1024, 'f2.bin': 900 * 1024, 'f3.bin': 1024 * 1024, 'f4.bin': 900 * 1024, 'f5.bin': 1400 * 1024 };
const names = Object.keys(sizes);
const originals = new Map(names.map((name) => [name, randomBytes(sizes[name]!)]));
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function catchUp(api: ReturnType<typeof call>, serverId: number): Promise<CatchupResult> {
  const res = await api('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: CatchupResult[] }).results[0]!;
}

/** Every file of a folder with its sha256 (temp files included: none may be left). */
async function listing(folder: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(folder).catch(() => [])) out[name] = sha(await readFile(path.join(folder, name)));
  return out;
}

/** On the small side, each file is absent or the sender's original, whole; no temp file is left. */
async function expectNothingPartial(): Promise<string[]> {
  const present = await listing(path.join(small, 'uploads'));
  for (const [name, hash] of Object.entries(present)) expect(hash, name).toBe(sha(originals.get(name)!));
  return Object.keys(present);
}

async function expectOriginalsIntact(): Promise<void> {
  expect(await listing(path.join(big, 'uploads'))).toEqual(Object.fromEntries(names.map((name) => [name, sha(originals.get(name)!)])));
}

describe.skipIf(!mounted)('a receiver whose disk fills up', () => {
  it('puts nothing partial in place, reports each file that did not fit, and sends nothing partial back', async () => {
    await mkdir(path.join(big, 'uploads'), { recursive: true });
    for (const name of names) await writeFile(path.join(big, 'uploads', name), originals.get(name)!);
    const first = await catchUp(apiA, pair.bServerIdOnA);
    expect(first.success).toBe(false);
    const arrived = await expectNothingPartial();
    const failed = names.filter((name) => !arrived.includes(name));
    expect(failed.length).toBeGreaterThanOrEqual(3); // 5 MB do not fit in 2 MB
    for (const name of failed) expect(first.errors.join('\n')).toMatch(new RegExp(`uploads/${name}: .*(507|disk)`));
    await expectOriginalsIntact();

    // The next exchanges, from either side, carry nothing partial back.
    const [bIdOfA] = (await pair.b!.ctx.pool.query<{ id: number }>('SELECT id FROM sync_servers')).rows.map((r) => r.id);
    // From the small side, the same files are downloads: refused the same way, each named.
    const fromSmall = await catchUp(apiB(), bIdOfA!);
    expect(fromSmall.success).toBe(false);
    const stillMissing = names.filter((name) => !arrived.includes(name));
    for (const name of stillMissing) expect(fromSmall.errors.join('\n')).toMatch(new RegExp(`uploads/${name}: .*disk`));
    await catchUp(apiA, pair.bServerIdOnA);
    await expectNothingPartial();
    await expectOriginalsIntact();
  });

  it('after space is freed, the next catch-up converges to the original content', async () => {
    execFileSync('mount', ['-o', 'remount,size=16m', small]);
    const result = await catchUp(apiA, pair.bServerIdOnA);
    expect(result.errors).toEqual([]);
    await expectOriginalsIntact();
    expect(await listing(path.join(small, 'uploads'))).toEqual(await listing(path.join(big, 'uploads')));
  });
});
