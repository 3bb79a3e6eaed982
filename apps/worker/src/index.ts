export { runWorkers, type JobFaults, type RunningWorkers } from './run.ts';
export { createHandlers } from './handlers.ts';
