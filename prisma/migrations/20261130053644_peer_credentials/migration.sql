-- Inbound credentials of peers (issue #18): each peer presents its own token, revocable alone; only the
-- token's sha256 is stored, looked up by its unique index on every request.
-- CreateTable
CREATE TABLE "peer_credentials" (
    "id" SERIAL NOT NULL,
    "server_id" INTEGER NOT NULL,
    "label" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "peer_credentials_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "peer_credentials_secret_hash_key" ON "peer_credentials"("secret_hash");

-- CreateIndex
CREATE INDEX "peer_credentials_server_id_idx" ON "peer_credentials"("server_id");

-- AddForeignKey
ALTER TABLE "peer_credentials" ADD CONSTRAINT "peer_credentials_server_id_fkey" FOREIGN KEY ("server_id") REFERENCES "sync_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
