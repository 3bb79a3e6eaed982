/**
 * How much one statement of a prune covers: this many ids of sync_logs, file tombstones, or change-log
 * positions. Each statement is short, so a prune never holds its row locks long while nodes write.
 */
export const PRUNE_CHUNK_SIZE = 5000;
