// Every queue, job name and payload/result type, in one place. Results are the engine's outcomes.
import type { CatchupResult, FileSyncOutcome, FullBaselineDirections, PruneReport, Range, ReceiveOutcome, SendOutcome } from '@catchup/engine';
import type { FileDirectory } from '@catchup/files';

export const QUEUE_NAMES = {
  detect: 'catchup-detect',
  catchup: 'catchup',
  batchSend: 'batch-send',
  batchReceive: 'batch-receive',
  fileSync: 'file-sync',
  prune: 'catchup-prune',
} as const;

export type QueueKey = keyof typeof QUEUE_NAMES;

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
  /** The trigger of the detection that added it. */
  trigger: DetectJobData['trigger'];
  /** When that detection began scanning this node's folders (ms since 1970): the folder syncs may build on its scan. */
  filesScannedAt?: number;
  /**
   * Set by the job itself as it goes: 'files' once it has planned and fanned out its database batches
   * (the folders' syncs come once those are done), 'finalize' once nothing is left to add.
   */
  step?: 'plan' | 'files' | 'finalize';
  /** The folders to sync, set when planning. */
  directories?: FileDirectory[];
  startedAt?: string;
  /** Errors met while planning (the run still finalizes and records them). */
  planErrors?: string[];
  /** File manifest positions when planning: recorded once every file-sync child succeeded. */
  fileSeqLocal?: string;
  fileSeqPeer?: string;
  /** Set when planning: which directions are full baselines (a cursor below the log's pruned horizon). */
  fullBaseline?: FullBaselineDirections;
}

export interface FileSyncJobData {
  serverId: number;
  directory: FileDirectory;
  /** The catch-up's filesScannedAt: a scan of the folder begun since then stands, while recent. */
  scannedSince?: number;
}

/** A folder's sync that moved everything it had to (one with failed files fails the job instead). */
export type FileSyncJobResult = Omit<FileSyncOutcome, 'errors'>;

export interface BatchSendJobData {
  serverId: number;
  peerNodeId: string;
  range: Range;
}

export interface BatchReceiveJobData {
  serverId: number;
  range: Range;
}

export interface PruneJobData {
  trigger: 'schedule' | 'request';
}

/**
 * Job name → its queue, payload, result and (for a parent) the jobs it adds as children. Handlers,
 * job options and the reading of children's results are typed from this.
 */
export interface JobTypes {
  detect: { queue: 'detect'; data: DetectJobData; result: DetectJobResult; children: never };
  catchup: { queue: 'catchup'; data: CatchupJobData; result: CatchupResult; children: 'batch-send' | 'batch-receive' | 'file-sync' };
  'batch-send': { queue: 'batchSend'; data: BatchSendJobData; result: SendOutcome; children: never };
  'batch-receive': { queue: 'batchReceive'; data: BatchReceiveJobData; result: ReceiveOutcome; children: never };
  'file-sync': { queue: 'fileSync'; data: FileSyncJobData; result: FileSyncJobResult; children: never };
  /** Retention: prunes the change log, file tombstones and sync logs. */
  prune: { queue: 'prune'; data: PruneJobData; result: PruneReport; children: never };
}

export type JobName = keyof JobTypes;

/** The jobs that run as children of a parent job. */
export type ChildJobName = JobTypes[JobName]['children'];

export const JOB_QUEUE: { [N in JobName]: JobTypes[N]['queue'] } = {
  detect: 'detect',
  catchup: 'catchup',
  'batch-send': 'batchSend',
  'batch-receive': 'batchReceive',
  'file-sync': 'fileSync',
  prune: 'prune',
};

export const JOB_NAMES = Object.keys(JOB_QUEUE) as JobName[];

/** The children a parent job adds (JobTypes' `children`, as values: a new child name must be listed here). */
export const JOB_CHILDREN: { [P in JobName]: { [C in JobTypes[P]['children']]: true } } = {
  detect: {},
  catchup: { 'batch-send': true, 'batch-receive': true, 'file-sync': true },
  'batch-send': {},
  'batch-receive': {},
  'file-sync': {},
  prune: {},
};

/** Id of the job scheduler that runs detection every catchup_check_interval seconds. */
export const DETECT_SCHEDULER_ID = 'catchup-detect-schedule';

/** Id of the job scheduler that runs the retention prune every catchup_prune_interval seconds. */
export const PRUNE_SCHEDULER_ID = 'catchup-prune-schedule';
