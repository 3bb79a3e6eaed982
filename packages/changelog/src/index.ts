export {
  MAX_BIGINT,
  OPERATIONS,
  acceptChangeFast,
  bigintString,
  changeSchema,
  changeOutputSchema,
  changeIdentity,
  compareVersions,
  isBigintString,
  type Change,
  type Operation,
} from './change.ts';
export { BatchRejectedError, IdentityConflictError } from './errors.ts';
export { applyBatch, applyChanges, applyIncoming, upsertRowImagesSql, type ApplyOptions, type ApplyResult } from './apply.ts';
export {
  applyLogStream,
  LOG_STREAM_CONTENT_TYPE,
  LogStreamTooLargeError,
  openLogStream,
  type LogStreamOptions,
  type LogStreamOrder,
  type LogStreamRange,
  type LogStreamResult,
} from './log-stream.ts';
export { checkChanges, incomingFromChange, scanChangesDocument, type ChangesDocument, type IncomingChange } from './wire.ts';
export {
  formatRowKeyCursor,
  latestSequence,
  parseRowKeyCursor,
  readChanges,
  readChangesByKeyJson,
  readChangesJson,
  readIdentities,
  type ChangePage,
  type IdentityPage,
  type ChangePageJson,
  type KeyOrderedPageJson,
  type ReadOptions,
  type RowKeyCursor,
} from './read.ts';
export {
  countMissingChanges,
  findUnmadeClaims,
  measureBacklog,
  backlogByTable,
  measureBacklogs,
  oldestUnacknowledged,
  type Backlog,
  type TableBacklog,
  type PeerPosition,
  type UnmadeClaims,
} from './detect.ts';
export { claimLacked, rangeHoldsOtherOrigins, releaseLeases, type ChangeIdentity, type ClaimOptions, type HeldAnswer, type StampedIdentity } from './held.ts';
export { acknowledgeRange, getCursor, type AckRange, type CursorDirection } from './cursors.ts';
export { getNodeIdentity, type NodeIdentity } from './identity.ts';
export {
  needsFullBaseline,
  pruneLog,
  pruneRanges,
  prunableEntries,
  readLogHorizon,
  type LogHorizon,
  type LoggedVersion,
  type PruneLogOptions,
  type PruneLogResult,
} from './prune.ts';
export {
  TableBusyError,
  TableNotFoundError,
  TableNotSyncableError,
  listSyncedTables,
  describeSyncedTables,
  enableTableSync,
  installCapture,
  disableTableSync,
  setSyncedTables,
  reportTables,
  type EnableOptions,
  type EnableOutcome,
  type TableInfo,
  type TableReport,
} from './tables.ts';
export { logBaselineChunk, resumeBaselines, type BaselineProgress } from './baseline.ts';
export { countsExactly, keyRefusal, nameRefusal, standingOf, TABLE_NAME, type TableFacts, type TableStanding } from './table-rules.ts';
export { quoteIdent, type Sql } from './sql.ts';
export {
  filterColumns,
  scopeAction,
  scopeActionSql,
  sendableSql,
  teamNumbersSchema,
  teamOfImage,
  writeRefusal,
  type ScopeAction,
  type TeamNumbers,
  type TeamScope,
} from './scope.ts';
export { listRowConflicts, type ConflictVersion, type RowConflict } from './conflicts.ts';
export {
  BUCKET_DIGITS,
  BUCKET_PATTERN,
  MAX_BUCKET_DIGITS,
  MAX_LEAF_ROWS,
  MAX_STANDING_IDS,
  UnknownTableError,
  bucketDigests,
  bucketRange,
  relogRows,
  rowDigests,
  rowStandings,
  tableDigests,
  type BucketDigest,
  type LoggedStanding,
  type RelogResult,
  type RowDigest,
  type RowStanding,
  type TableDigest,
} from './digest.ts';
