-- AlterTable
ALTER TABLE "sync_node" ADD COLUMN     "api_key_hash" TEXT;
