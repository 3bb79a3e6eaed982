-- Changes this node lacks that one peer has been told to deliver (issue #19 item 6): before sending a
-- page, a peer asks which of its changes this node lacks (POST /api/sync/changes/held); a lacked change is
-- leased to the first asker for catchup_held_lease_seconds, and the others are told it is on its way.
-- UNLOGGED: leases are worth nothing after a crash (a lost lease lets a change be sent twice, which the
-- applier skips as a duplicate), so they cost no WAL; every API process of the node sees the same table.
-- CreateTable
CREATE UNLOGGED TABLE "change_delivery_leases" (
    "origin_node_id" TEXT NOT NULL,
    "origin_sequence" BIGINT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "change_delivery_leases_pkey" PRIMARY KEY ("origin_node_id","origin_sequence")
);
