// The sync's PostgreSQL advisory lock ids, in one place so that no two of its locks share an id.

/**
 * The log lock: every writer of database_changes holds it from allocating a position until its commit, so
 * positions follow commit order (I2). SQL takes it (catchup_lock_log(), a migration): listed here so that
 * no other lock takes its id.
 */
export const LOG_LOCK_ID = 7_302_180_001n;
/** One scan per synced folder at a time: this id plus the folder's place in FILE_DIRECTORIES. */
export const FILE_SCAN_LOCK_BASE = 7_302_180_100;
/** One log prune at a time per database. */
export const PRUNE_LOCK_ID = 7_311_200_451n;
/** One baseline runner per table: the class of the two-key form (class, hashtext(table)), apart from the one-key ids above. */
export const BASELINE_RUNNER_LOCK_CLASS = 730_218;
