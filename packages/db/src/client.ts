// Prisma Client over the pg driver adapter: the one way the product opens its database.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.ts';
import { createPool } from './pool.ts';

export type Db = PrismaClient;

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  // The adapter runs on a pool of ours, so that a connection lost under Prisma is handled like any other
  // (see createPool); $disconnect ends it.
  const adapter = new PrismaPg(createPool(databaseUrl, options.max ?? 10), { disposeExternalPool: true });
  return new PrismaClient({ adapter });
}
