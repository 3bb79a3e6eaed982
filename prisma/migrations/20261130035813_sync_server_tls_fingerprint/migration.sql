-- The sha256 fingerprint a peer's TLS certificate must have (pinned identity); null: the peer is verified by CA.
-- AlterTable
ALTER TABLE "sync_servers" ADD COLUMN     "tls_fingerprint" TEXT;
