-- File manifest change sequence (F2): every recorded change of a file (new content, deletion) takes the
-- next value, so peers can read the manifest by cursor instead of by clock.
CREATE SEQUENCE "file_checksums_change_seq" AS BIGINT;
