-- This node's wall clock in milliseconds as its hybrid logical clock reads it: PostgreSQL's clock shifted
-- by catchup.clock_offset_ms (which tests set to play a node whose clock is wrong). The clock bound
-- (SPEC I13) measures stamps and peers' clocks against it.
CREATE FUNCTION catchup_wall_clock_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
         + coalesce(nullif(current_setting('catchup.clock_offset_ms', true), '')::BIGINT, 0)
$$;

-- Call with the log lock held.
CREATE OR REPLACE FUNCTION catchup_next_hlc() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  wall BIGINT := catchup_wall_clock_ms() * 65536;
  stamp BIGINT := nextval('catchup_hlc_seq');
BEGIN
  IF stamp < wall THEN
    PERFORM setval('catchup_hlc_seq', wall, true);
    RETURN wall;
  END IF;
  RETURN stamp;
END $$;
