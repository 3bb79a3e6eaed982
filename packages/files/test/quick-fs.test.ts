import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRemoteFileSystem, QuickFs, quickFsFor } from '@catchup/files';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'quick-fs-'));
  await mkdir(path.join(root, 'folder'));
  await writeFile(path.join(root, 'folder', 'file.txt'), 'twelve bytes');
  await symlink(path.join(root, 'folder', 'file.txt'), path.join(root, 'link'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe.each([
  { disk: 'from its cache (synchronous calls)', slowCallMs: undefined, slow: false },
  { disk: 'slowly (asynchronous calls after the third slow one)', slowCallMs: -1, slow: true },
])('QuickFs, with a disk answering $disk', ({ slowCallMs, slow }) => {
  const quickFs = async () => {
    const quick = new QuickFs({ slowCallMs });
    for (let i = 0; i < 3; i++) await quick.stat(root);
    expect(quick.slow).toBe(slow);
    return quick;
  };

  it('stats a file, following a symlink with stat and not with lstat; nothing there is null', async () => {
    const quick = await quickFs();
    expect((await quick.stat(path.join(root, 'folder', 'file.txt')))?.size).toBe(12);
    expect((await quick.stat(path.join(root, 'link')))?.isFile()).toBe(true);
    expect((await quick.lstat(path.join(root, 'link')))?.isSymbolicLink()).toBe(true);
    expect(await quick.stat(path.join(root, 'missing'))).toBeNull();
    expect(await quick.lstat(path.join(root, 'missing'))).toBeNull();
    expect(await quick.stat(path.join(root, 'folder', 'file.txt', 'under-a-file'))).toBeNull();
  });

  it('lists a folder with its entries’ types, and refuses a missing one', async () => {
    const quick = await quickFs();
    const entries = await quick.readdir(root);
    expect(entries.map((e) => [e.name, e.isDirectory(), e.isSymbolicLink()]).sort()).toEqual([
      ['folder', true, false],
      ['link', false, true],
    ]);
    await expect(quick.readdir(path.join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads up to a bound from a file’s start', async () => {
    const quick = await quickFs();
    const file = path.join(root, 'folder', 'file.txt');
    expect((await quick.readUpTo(file, 100)).toString()).toBe('twelve bytes');
    expect((await quick.readUpTo(file, 6)).toString()).toBe('twelve');
    expect((await quick.readUpTo(file, 0)).length).toBe(0);
    await expect(quick.readUpTo(path.join(root, 'missing'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('QuickFs on a disk answering from its cache', () => {
  it('gives the event loop a turn while it makes many calls', async () => {
    const quick = new QuickFs();
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    try {
      const started = performance.now();
      while (performance.now() - started < 60) await quick.stat(root);
    } finally {
      clearInterval(ticker);
    }
    expect(quick.slow).toBe(false);
    expect(turns).toBeGreaterThan(3);
  });
});

describe('where QuickFs calls synchronously', () => {
  it('on a local disk, and asynchronously from the start on a network or FUSE file system', async () => {
    expect((await quickFsFor(root)).slow).toBe(process.platform !== 'linux');
    expect((await quickFsFor(path.join(root, 'missing'))).slow).toBe(true);
    expect(new QuickFs({ slow: true }).slow).toBe(true);
    for (const local of [0xef53 /* ext4 */, 0x58465342 /* xfs */, 0x9123683e /* btrfs */, 0x01021994 /* tmpfs */, 0x794c7630 /* overlay */])
      expect(isRemoteFileSystem(local)).toBe(false);
    for (const remote of [0x6969 /* NFS */, 0xff534d42 /* CIFS */, 0xfe534d42 /* SMB2 */, 0x65735546 /* FUSE */, 0x00c36400 /* Ceph */])
      expect(isRemoteFileSystem(remote)).toBe(true);
  });
});
