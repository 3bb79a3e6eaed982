export * from './jobs.ts';
export { jobOptions, type RetryPolicy } from './options.ts';
export { redisConnection } from './connection.ts';
export { NodeQueues, QueueUnavailableError, startWorkers, UnrecoverableError, WaitingChildrenError, type Handlers, type Job, type QueueSetOptions, type WorkerSetOptions } from './queues.ts';
