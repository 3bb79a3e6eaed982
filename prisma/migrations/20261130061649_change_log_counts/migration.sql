-- Per block of 4096 log positions, how many entries each origin has (scope exits, which no node sends,
-- not counted): detection (SPEC I10) sums the whole blocks above a peer's cursor and counts only the
-- block the cursor falls in, instead of every entry the peer lacks. Kept by statement-level triggers on
-- database_changes, in the statement that inserts or deletes the entries: one aggregate per statement (a
-- batch's COPY, a prune chunk), so the count is exactly the log's in every snapshot.
-- CreateTable
CREATE TABLE "change_log_counts" (
    "bucket" BIGINT NOT NULL,
    "origin_node_id" TEXT NOT NULL,
    "entries" BIGINT NOT NULL,

    CONSTRAINT "change_log_counts_pkey" PRIMARY KEY ("bucket","origin_node_id")
);

CREATE FUNCTION catchup_count_added() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log_counts (bucket, origin_node_id, entries)
    SELECT sequence / 4096, origin_node_id, count(*) FROM added WHERE NOT scope_exit GROUP BY 1, 2
  ON CONFLICT (bucket, origin_node_id) DO UPDATE SET entries = change_log_counts.entries + EXCLUDED.entries;
  RETURN NULL;
END $$;

CREATE FUNCTION catchup_count_removed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  UPDATE change_log_counts c SET entries = c.entries - r.n
    FROM (SELECT sequence / 4096 AS bucket, origin_node_id, count(*) AS n FROM removed WHERE NOT scope_exit GROUP BY 1, 2) r
   WHERE c.bucket = r.bucket AND c.origin_node_id = r.origin_node_id;
  DELETE FROM change_log_counts WHERE entries = 0;
  RETURN NULL;
END $$;

-- An entry's position, origin and scope exit never change once logged; an update that changed them
-- would leave the counts wrong, so none is allowed.
CREATE FUNCTION catchup_count_refuse_update() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'database_changes entries are not updated (their position, origin and scope exit are counted)';
END $$;

CREATE FUNCTION catchup_count_truncated() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE change_log_counts;
  RETURN NULL;
END $$;

CREATE TRIGGER catchup_count_added AFTER INSERT ON database_changes
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION catchup_count_added();
CREATE TRIGGER catchup_count_removed AFTER DELETE ON database_changes
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION catchup_count_removed();
CREATE TRIGGER catchup_count_refuse_update BEFORE UPDATE OF sequence, origin_node_id, scope_exit ON database_changes
  FOR EACH ROW EXECUTE FUNCTION catchup_count_refuse_update();
CREATE TRIGGER catchup_count_truncated AFTER TRUNCATE ON database_changes
  FOR EACH STATEMENT EXECUTE FUNCTION catchup_count_truncated();

-- The log as it stands.
INSERT INTO change_log_counts (bucket, origin_node_id, entries)
  SELECT sequence / 4096, origin_node_id, count(*) FROM database_changes WHERE NOT scope_exit GROUP BY 1, 2;
