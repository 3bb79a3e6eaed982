-- CreateTable
CREATE TABLE "change_log_horizon" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "pruned_through" BIGINT NOT NULL DEFAULT 0,
    "own_pruned_through" BIGINT NOT NULL DEFAULT 0,
    "pruned_before" TIMESTAMPTZ(3),
    "pruned_at" TIMESTAMPTZ(3),

    CONSTRAINT "change_log_horizon_pkey" PRIMARY KEY ("id")
);

-- One row, there from the start: prune chunks update it in the transaction that deletes entries.
ALTER TABLE "change_log_horizon" ADD CONSTRAINT "change_log_horizon_one_row" CHECK ("id" = 1);
INSERT INTO "change_log_horizon" ("id") VALUES (1);
