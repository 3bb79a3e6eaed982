export * from './jobs.ts';
export { batchPriority, jobOptions, TRIGGER_PRIORITY, type RetryPolicy, type Trigger } from './options.ts';
export { redisAnswers, redisConnection } from './connection.ts';
export { FAULT_KINDS, FaultLedger, type FaultCount, type FaultKind } from './faults.ts';
export {
  NodeQueues,
  QueueUnavailableError,
  startWorkers,
  UnrecoverableError,
  WaitingChildrenError,
  type Handlers,
  type Job,
  type QueueSetOptions,
  type WorkerSetOptions,
} from './queues.ts';
export { childJobName, groupByChildJob, readChildren, waitForChildren, type ChildrenFailures, type ChildrenResults } from './children.ts';
