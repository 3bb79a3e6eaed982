-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "file_seq_local" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "file_seq_peer" BIGINT NOT NULL DEFAULT 0;
