export { createDb, type Db } from './client.ts';
export { ensureDatabase, dropDatabase, redactUrl } from './admin.ts';
export { Prisma } from './generated/client.ts';
export type * from './generated/models.ts';
export { createPool, inTransaction, type Pool, type PoolClient } from './pool.ts';
