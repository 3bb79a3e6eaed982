-- Log positions by default, so that the applier's COPY leaves them to the sequence (in line order). As
-- before, every writer of the log takes positions only while holding the log lock (see the capture
-- migration): that is what keeps positions in commit order. (Prisma models this as autoincrement().)
ALTER TABLE "database_changes" ALTER COLUMN "sequence" SET DEFAULT nextval('database_changes_sequence_seq');
ALTER SEQUENCE database_changes_sequence_seq OWNED BY "database_changes"."sequence";
