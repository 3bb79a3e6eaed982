-- What a peer accepts as request body encodings (learnt from its ping); null: send bodies uncompressed.
-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "content_encodings" TEXT;
