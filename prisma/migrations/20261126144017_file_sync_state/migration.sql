-- CreateTable
CREATE TABLE "file_sync_state" (
    "server_id" INTEGER NOT NULL,
    "directory" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "file_sync_state_pkey" PRIMARY KEY ("server_id","directory","path")
);

-- AddForeignKey
ALTER TABLE "file_sync_state" ADD CONSTRAINT "file_sync_state_server_id_fkey" FOREIGN KEY ("server_id") REFERENCES "sync_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
