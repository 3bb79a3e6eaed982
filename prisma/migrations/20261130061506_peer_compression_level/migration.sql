-- The compression level chosen for the link to a peer (0: none); null: the node's COMPRESSION_LEVEL.
-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "compression_level" INTEGER;
