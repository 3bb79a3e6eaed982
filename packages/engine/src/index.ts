export type { EngineContext } from './context.ts';
export { measurePeers, peerHasChangesForUs, type PeerNeed } from './detect.ts';
export { consecutiveFailures } from './failures.ts';
export { pingPeer, recordRefusal, type PingOutcome } from './ping.ts';
export { nodeWallClock, clockOffsetMs, clockRefusal } from './clock.ts';
export {
  planCatchup,
  sendRange,
  receiveRange,
  finalizeCatchup,
  fullBaselineCounts,
  type CatchupPlan,
  type FullBaselineDirections,
  type SendOutcome,
  type ReceiveOutcome,
  type FinalizeInput,
} from './catchup.ts';
export {
  catchupResultSchema,
  describeResult,
  noFileChanges,
  sumFileChanges,
  type CatchupResult,
  type FileChanges,
  type FullBaselineCounts,
} from './catchup-result.ts';
export { planSendRanges, planReceiveRanges, sendRanges, tableRanks, type Range, type SendPlan } from './ranges.ts';
export { openEngine, type OpenedEngine } from './assemble.ts';
export { peerFilesChanged } from './file-positions.ts';
export { DETECTION_SCAN_STANDS_MS, syncDirectory, enabledDirectories, failureSummary, largestFolderFirst, type FileSyncOutcome } from './files.ts';
export { applyPeerBatch, applyPeerStream, checkClaimsOfPeer, recordIntegrityAlert, INTEGRITY_ALERT, type AlertSource } from './integrity.ts';
export {
  ADMIN_OPERATIONS,
  ADMIN_OPERATION_NAMES,
  LOG_KINDS,
  NODE_ACTOR,
  SCHEDULER_ACTOR,
  actorOf,
  auditResultSchema,
  fieldChanges,
  isSecretField,
  recordAdminAction,
  type AdminAction,
  type AdminOperation,
  type AuditResult,
  type FieldChanges,
  type LogKind,
} from './audit.ts';
export { addSyncedTable, removeSyncedTable, resumeTableBaselines, TABLE_ADDED, TABLE_REMOVED } from './tables.ts';
export {
  PRUNE_OPERATION,
  peerRetention,
  peerRetentions,
  presentHorizon,
  pruneNode,
  pruneSyncLogs,
  retentionCutoff,
  retentionOf,
  type PeerRetention,
  type PruneReport,
} from './retention.ts';
export {
  CREDENTIAL_STATES,
  TOKEN_PREFIX,
  credentialSchema,
  issuedCredentialSchema,
  issueCredential,
  listCredentials,
  revokeCredential,
  tokenHash,
  verifyPeerToken,
  type Credential,
  type IssueOptions,
  type Issued,
  type IssuedCredential,
  type PeerIdentity,
  type Revoked,
} from './credentials.ts';
export {
  DELIVERY_OPERATIONS,
  DELIVERY_OPERATION_NAMES,
  peerActor,
  recordPeerDelivery,
  type Delivery,
  type DeliveryOperation,
} from './deliveries.ts';
export { teamScopeOf, teamScopeOfServer } from './team-scope.ts';
export {
  catchupPreviewSchema,
  estimateSeconds,
  previewCatchup,
  recentPaces,
  summarizeFolderPlan,
  type CatchupPreview,
  type FolderPreview,
  type RunPace,
} from './catchup-preview.ts';
export { ConflictNotFoundError, listConflicts, resolveFileConflict, resolveRowConflict } from './conflicts.ts';
export {
  LEAF_ROWS,
  MAX_REPORTED_ROWS,
  REPAIR_ACTIONS,
  VerifyRefusedError,
  differingBuckets,
  differingKeys,
  differingRows,
  nextStep,
  repairAction,
  rowDifferenceSchema,
  verifyPeer,
  verifyReportSchema,
  type DifferenceKind,
  type RepairAction,
  type RowDifference,
  type VerifyReport,
} from './verify.ts';
