-- The baseline of a table put under sync is logged in chunks, each its own short transaction under the
-- log lock, so that other tables' writers wait for one chunk at most. This row says how far a table's
-- baseline got (pending while finished_at is null), so that an interrupted one is continued.
-- CreateTable
CREATE TABLE "sync_table_baselines" (
    "table_name" TEXT NOT NULL,
    "next_key" UUID,
    "captured_after" BIGINT NOT NULL,
    "rows_logged" BIGINT NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sync_table_baselines_pkey" PRIMARY KEY ("table_name")
);
