// Every queue, job name and payload/result type, in one place.

export const QUEUE_NAMES = {
  detect: 'catchup-detect',
  catchup: 'catchup',
  batchSend: 'batch-send',
  batchReceive: 'batch-receive',
  fileSync: 'file-sync',
  prune: 'catchup-prune',
} as const;

export type QueueKey = keyof typeof QUEUE_NAMES;

export interface Range {
  from: string;
  to: string;
}

export interface DetectJobData {
  trigger: 'schedule' | 'scan';
  /** Limit detection to these peers (scan with server_ids). */
  serverIds?: number[];
}

export interface DetectJobResult {
  skipped?: string;
  /**
   * reachable: whether a catch-up can run with the peer — false when it gave no usable answer or its clock
   * is beyond catchup_max_clock_skew_seconds; error says which.
   */
  peers: { server_id: number; server_name: string; missing_changes: number; reachable: boolean; error?: string; catchup_job_id?: string }[];
}

export interface CatchupJobData {
  serverId: number;
  trigger: 'schedule' | 'scan';
  /** Set by the job itself when it has planned and fanned out. */
  step?: 'plan' | 'finalize';
  startedAt?: string;
  /** Errors met while planning (the run still finalizes and records them). */
  planErrors?: string[];
  /** File manifest positions when planning: recorded once every file-sync child succeeded. */
  fileSeqLocal?: string;
  fileSeqPeer?: string;
  /** Set when planning: which directions are full baselines (a cursor below the log's pruned horizon). */
  fullBaseline?: { send: boolean; receive: boolean };
}

export interface FileSyncJobData {
  serverId: number;
  directory: 'instance' | 'config' | 'uploads';
}

export interface FileSyncJobResult {
  directory: 'instance' | 'config' | 'uploads';
  uploaded: number;
  downloaded: number;
  deleted: number;
  conflicts: number;
  bytes: number;
}

export interface BatchSendJobData {
  serverId: number;
  peerNodeId: string;
  range: Range;
}

export interface BatchSendJobResult {
  range: Range;
  sent: number;
  /** Of them, deletes. */
  tombstones?: number;
}

export interface BatchReceiveJobData {
  serverId: number;
  range: Range;
}

export interface BatchReceiveJobResult {
  range: Range;
  received: number;
  applied: number;
  skippedDuplicate: number;
  skippedStale: number;
  /** Of the received, deletes. */
  tombstones?: number;
  /** The peer's pages said its log was pruned past the range's start. */
  fullBaseline?: boolean;
}

export interface PruneJobData {
  trigger: 'schedule' | 'request';
}

/** Job name → its queue, payload and result. Handlers are typed from this. */
export interface JobTypes {
  detect: { queue: 'detect'; data: DetectJobData; result: DetectJobResult };
  catchup: { queue: 'catchup'; data: CatchupJobData; result: unknown };
  'batch-send': { queue: 'batchSend'; data: BatchSendJobData; result: BatchSendJobResult };
  'batch-receive': { queue: 'batchReceive'; data: BatchReceiveJobData; result: BatchReceiveJobResult };
  'file-sync': { queue: 'fileSync'; data: FileSyncJobData; result: FileSyncJobResult };
  /** Retention: prunes the change log, file tombstones and sync logs (the result is the engine's prune report). */
  prune: { queue: 'prune'; data: PruneJobData; result: unknown };
}

export type JobName = keyof JobTypes;

export const JOB_QUEUE: { [N in JobName]: JobTypes[N]['queue'] } = {
  detect: 'detect',
  catchup: 'catchup',
  'batch-send': 'batchSend',
  'batch-receive': 'batchReceive',
  'file-sync': 'fileSync',
  prune: 'prune',
};

export const JOB_NAMES = Object.keys(JOB_QUEUE) as JobName[];

/** Id of the job scheduler that runs detection every catchup_check_interval seconds. */
export const DETECT_SCHEDULER_ID = 'catchup-detect-schedule';

/** Id of the job scheduler that runs the retention prune every catchup_prune_interval seconds. */
export const PRUNE_SCHEDULER_ID = 'catchup-prune-schedule';
