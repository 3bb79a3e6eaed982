// The base of a file sync (F4): what this node agreed on, per peer, folder and path.
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { AgreedBase, readBase, readBasesElsewhere } from '@catchup/files';
import { useTestDatabases } from '@catchup/testing';

const [database] = await useTestDatabases(1, 'files_base');
const pool = createPool(database!.url, 2);
afterAll(() => pool.end());
/** Lets the clock move on, so that agreements made one after the other are ordered by time. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

async function peer(name: string): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(`INSERT INTO sync_servers (name, host, port) VALUES ($1, '127.0.0.1', 1) RETURNING id`, [name]);
  return rows[0]!.id;
}

describe('the base of a file sync', () => {
  it('keeps what was agreed per peer and folder, the latest agreement of a path replacing the earlier one', async () => {
    const [b, c] = [await peer('base-b'), await peer('base-c')];
    const withB = new AgreedBase(pool, b, 'uploads');
    await withB.add('photo.jpg', 'v1');
    await withB.add('gone.txt', null);
    await withB.flush();
    await withB.add('photo.jpg', 'v2');
    await withB.flush();
    const withC = new AgreedBase(pool, c, 'uploads');
    await withC.add('photo.jpg', 'from-c');
    await withC.flush();

    expect(await readBase(pool, b, 'uploads')).toEqual(
      new Map([
        ['photo.jpg', 'v2'],
        ['gone.txt', null],
      ]),
    );
    expect(await readBase(pool, b, 'config')).toEqual(new Map());
    expect(await readBase(pool, c, 'uploads')).toEqual(new Map([['photo.jpg', 'from-c']]));
  });

  it('reads the newest version agreed with any other peer, never a deletion', async () => {
    const [b, c, d] = [await peer('elsewhere-b'), await peer('elsewhere-c'), await peer('elsewhere-d')];
    for (const [serverId, sha256] of [
      [c, 'from-c'],
      [d, 'from-d'],
    ] as const) {
      const agreed = new AgreedBase(pool, serverId, 'instance');
      await agreed.add('notes.md', sha256);
      await agreed.add(`only-${sha256}.txt`, null);
      await agreed.flush();
      await tick();
    }
    const withB = new AgreedBase(pool, b, 'instance');
    await withB.add('notes.md', 'from-b');
    await withB.flush();

    expect(await readBasesElsewhere(pool, b, 'instance')).toEqual(new Map([['notes.md', 'from-d']]));
    expect(await readBasesElsewhere(pool, d, 'instance')).toEqual(new Map([['notes.md', 'from-b']]));
  });
});
