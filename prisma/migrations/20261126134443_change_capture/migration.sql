-- Change capture (SPEC I1, I2, I5, I6). Written by hand: Prisma does not model functions or triggers.

-- Log positions. Allocated only while holding the log lock (below), so positions follow commit order.
CREATE SEQUENCE "database_changes_sequence_seq" AS BIGINT;

-- This node's identity, created on first use (a database cloned from another gets its own on first write).
CREATE FUNCTION catchup_node_id() RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
  v TEXT;
BEGIN
  SELECT node_id INTO v FROM sync_node WHERE id = 1;
  IF v IS NULL THEN
    INSERT INTO sync_node (id, node_id) VALUES (1, gen_random_uuid()::text) ON CONFLICT (id) DO NOTHING;
    SELECT node_id INTO v FROM sync_node WHERE id = 1;
  END IF;
  RETURN v;
END $$;

-- The log lock: every writer of database_changes holds it from allocating a position until its commit.
-- Capture takes it at commit time (deferred trigger), so it is held for milliseconds.
CREATE FUNCTION catchup_lock_log() RETURNS VOID LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(7302180001);
$$;

-- Hybrid logical clock: wall milliseconds * 65536 + counter, never below the newest stamp in the log
-- (which includes every applied remote change). catchup.clock_offset_ms shifts the wall clock (tests
-- use it to simulate a node whose clock is wrong). Call with the log lock held.
CREATE FUNCTION catchup_next_hlc() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  wall BIGINT := ((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
                  + coalesce(nullif(current_setting('catchup.clock_offset_ms', true), '')::BIGINT, 0)) * 65536;
  newest BIGINT;
BEGIN
  SELECT max(hlc) INTO newest FROM database_changes;
  RETURN greatest(wall, coalesce(newest, 0) + 1);
END $$;

-- Capture trigger body, for every synced table (installed per table as a deferred constraint trigger).
-- Runs at commit: a rolled-back write leaves nothing; positions are allocated in commit order.
CREATE FUNCTION catchup_capture() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  op TEXT;
  rec_id TEXT;
  new_row JSONB;
  old_row JSONB;
  seq BIGINT;
  stamp BIGINT;
  node TEXT;
BEGIN
  -- Remote changes are applied with catchup.applying = on and logged by the applier itself (I6).
  IF current_setting('catchup.applying', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    op := 'insert';
    new_row := to_jsonb(NEW);
    rec_id := NEW.id::text;
  ELSIF TG_OP = 'UPDATE' THEN
    new_row := to_jsonb(NEW);
    old_row := to_jsonb(OLD);
    IF new_row = old_row THEN
      RETURN NULL;
    END IF;
    rec_id := NEW.id::text;
    op := 'update';
    IF new_row ? 'is_active' AND (old_row -> 'is_active') IS DISTINCT FROM (new_row -> 'is_active') THEN
      op := CASE WHEN (new_row ->> 'is_active')::BOOLEAN THEN 'reactivate' ELSE 'soft_delete' END;
    END IF;
  ELSE
    op := 'delete';
    old_row := to_jsonb(OLD);
    rec_id := OLD.id::text;
  END IF;

  PERFORM catchup_lock_log();
  node := catchup_node_id();
  seq := nextval('database_changes_sequence_seq');
  stamp := catchup_next_hlc();
  INSERT INTO database_changes
    (sequence, table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc)
  VALUES (seq, TG_TABLE_NAME, rec_id, op, new_row, old_row, clock_timestamp(), node, seq, stamp);
  INSERT INTO sync_row_versions (table_name, record_id, hlc, origin_node_id, deleted)
  VALUES (TG_TABLE_NAME, rec_id, stamp, node, op = 'delete')
  ON CONFLICT (table_name, record_id)
  DO UPDATE SET hlc = EXCLUDED.hlc, origin_node_id = EXCLUDED.origin_node_id, deleted = EXCLUDED.deleted;
  RETURN NULL;
END $$;

-- The sample tables are synced from the start, so that writes made before a node first runs are captured.
CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON "teams"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catchup_capture();
CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON "events"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catchup_capture();
CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON "matches"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catchup_capture();
CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON "scouting_data"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catchup_capture();
