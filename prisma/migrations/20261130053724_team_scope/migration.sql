-- Team isolation: the teams a peer may see (null: all), and the log entries standing for a row that left this
-- node's team scope (never sent on).
-- AlterTable
ALTER TABLE "database_changes" ADD COLUMN     "scope_exit" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "team_scope" JSONB;
