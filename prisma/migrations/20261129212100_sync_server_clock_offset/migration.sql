-- The peer's clock offset measured at its last answered ping (SPEC I13), shown by GET /servers and status.
-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "clock_offset_ms" BIGINT;
