-- The conflict inbox: conflicts an operator settled, by the losing change's identity.
-- CreateTable
CREATE TABLE "conflict_resolutions" (
    "id" SERIAL NOT NULL,
    "loser" TEXT NOT NULL,
    "table_name" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "choice" TEXT NOT NULL,
    "new_change" TEXT,
    "actor" TEXT NOT NULL,
    "resolved_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conflict_resolutions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "conflict_resolutions_loser_key" ON "conflict_resolutions"("loser");
