import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix, useTestDatabases } from '@catchup/testing';

const nodes = await useTestDatabases(2, 'harness');

describe('test harness', () => {
  it('gives each node a separate, migrated database', async () => {
    const [a, b] = nodes;
    expect(a!.name).not.toBe(b!.name);
    await a!.db.team.create({ data: { teamNumber: 254, name: 'Cheesy Poofs', scoutingTeamNumber: 1 } });
    expect(await a!.db.team.count()).toBe(1);
    expect(await b!.db.team.count()).toBe(0);
    const migrations = await b!.db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM _prisma_migrations`;
    expect(Number(migrations[0]!.n)).toBeGreaterThan(0);
  });

  it('drops a database when asked', async () => {
    const temp = await createTestDatabase('temp');
    await temp.drop();
    const rows = await nodes[0]!.db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM pg_database WHERE datname = ${temp.name}`;
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('removes exactly the keys of its own Redis prefix', async () => {
    const mine = uniqueQueuePrefix('mine');
    const other = uniqueQueuePrefix('other');
    const redis = new Redis(testRedisUrl);
    try {
      await redis.set(`${mine}:a`, '1');
      await redis.set(`${mine}:b`, '1');
      await redis.set(`${other}:a`, '1');
      expect(await deleteKeysWithPrefix(mine)).toBe(2);
      expect(await redis.exists(`${mine}:a`, `${mine}:b`)).toBe(0);
      expect(await redis.exists(`${other}:a`)).toBe(1);
    } finally {
      await redis.del(`${other}:a`);
      redis.disconnect();
    }
  });
});
