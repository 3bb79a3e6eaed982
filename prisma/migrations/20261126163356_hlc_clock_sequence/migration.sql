-- The hybrid logical clock's memory moves from max(hlc) over the log (which needed an index on hlc,
-- maintained on every append) to a sequence: the newest stamp issued or seen. nextval gives "newest + 1"
-- without reading the log; the applier moves it past every remote stamp it logs. Sequences are not
-- transactional: a rolled-back batch may leave the clock ahead, which only makes later stamps larger.
-- DropIndex
DROP INDEX "database_changes_hlc_idx";

CREATE SEQUENCE "catchup_hlc_seq" AS BIGINT MINVALUE 0 START WITH 0;
SELECT setval('catchup_hlc_seq', coalesce((SELECT max(hlc) FROM database_changes), 0), true);

-- Call with the log lock held (as before).
CREATE OR REPLACE FUNCTION catchup_next_hlc() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  wall BIGINT := ((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
                  + coalesce(nullif(current_setting('catchup.clock_offset_ms', true), '')::BIGINT, 0)) * 65536;
  stamp BIGINT := nextval('catchup_hlc_seq');
BEGIN
  IF stamp < wall THEN
    PERFORM setval('catchup_hlc_seq', wall, true);
    RETURN wall;
  END IF;
  RETURN stamp;
END $$;

-- The applier reports the newest remote stamp it logged, so that later local stamps order after it (I5).
-- Call with the log lock held.
CREATE FUNCTION catchup_observe_hlc(seen BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  IF seen > (SELECT last_value FROM catchup_hlc_seq) THEN
    PERFORM setval('catchup_hlc_seq', seen, true);
  END IF;
END $$;
