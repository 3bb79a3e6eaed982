// npm run db:migration:create -- <name> — write a new migration from the change to prisma/schema.prisma.
// The engine replays the committed migrations in a throwaway shadow database on DATABASE_URL's server.
import { loadNodeConfig } from '@catchup/config';
import { createMigration } from '@catchup/db/migrations';

const name = process.argv[2];
if (!name) {
  console.error('usage: npm run db:migration:create -- <snake_case_name>');
  process.exit(2);
}
const url = process.env.DATABASE_URL ?? loadNodeConfig().databaseUrl;
const folder = await createMigration(url, name);
console.log(folder ? `Wrote ${folder}/migration.sql — review it, then npm run db:migrate.` : 'schema.prisma matches the migrations: nothing to write.');
