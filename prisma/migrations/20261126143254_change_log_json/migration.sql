-- AlterTable
ALTER TABLE "database_changes" ALTER COLUMN "change_data" SET DATA TYPE JSON,
ALTER COLUMN "old_data" SET DATA TYPE JSON;
