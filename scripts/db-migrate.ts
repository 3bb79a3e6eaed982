// npm run db:migrate — create the database if missing and apply pending migrations (offline).
import { loadNodeConfig } from '@catchup/config';
import { redactUrl } from '@catchup/db';
import { migrateDeploy } from '@catchup/db/migrations';
import { describeStartupError } from '@catchup/config';

const url = process.env.DATABASE_URL ?? loadNodeConfig().databaseUrl;
try {
  const applied = await migrateDeploy(url);
  console.log(
    applied.length ? `Applied ${applied.length} migration(s) to ${redactUrl(url)}: ${applied.join(', ')}` : `Database ${redactUrl(url)} is up to date.`,
  );
} catch (err) {
  console.error(describeStartupError(err, { databaseUrl: url }));
  process.exit(1);
}
