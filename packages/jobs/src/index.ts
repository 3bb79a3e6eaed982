export { runWorkers, type RunningWorkers } from './run.ts';
export { createHandlers } from './handlers.ts';
