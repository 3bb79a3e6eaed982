// What a parent job's children left: their results and failures, grouped by job name. A child's job
// name is known from its key (`prefix:queue:id`): every job name has a queue of its own.
import { WaitingChildrenError, type Job } from 'bullmq';
import { JOB_CHILDREN, JOB_NAMES, JOB_QUEUE, QUEUE_NAMES, type JobName, type JobTypes } from './jobs.ts';

/** Each child job name of parent `P` → the results of those of its children that completed. */
export type ChildrenResults<P extends JobName> = { [C in JobTypes[P]['children']]: JobTypes[C]['result'][] };

/** Each child job name of parent `P` → the failure reasons of those of its children that failed for good. */
export type ChildrenFailures<P extends JobName> = { [C in JobTypes[P]['children']]: string[] };

const JOB_OF_QUEUE = new Map<string, JobName>(JOB_NAMES.map((name) => [QUEUE_NAMES[JOB_QUEUE[name]], name]));
if (JOB_OF_QUEUE.size !== JOB_NAMES.length) throw new Error('two job names share a queue: a child key would not name its job');

/** The job name of the child job with this key (`prefix:queue:id`; the prefix may hold colons). */
export function childJobName(key: string): JobName | undefined {
  const queue = /:([^:]+):[^:]+$/.exec(key)?.[1];
  return queue === undefined ? undefined : JOB_OF_QUEUE.get(queue);
}

/** Groups `{ child key: value }` by the children's job names; a key of another job is an error. */
export function groupByChildJob<P extends JobName, T>(parent: P, byKey: Record<string, T>): { [C in JobTypes[P]['children']]: T[] } {
  const groups = Object.fromEntries(Object.keys(JOB_CHILDREN[parent]).map((name) => [name, [] as T[]])) as Record<string, T[]>;
  for (const [key, value] of Object.entries(byKey)) {
    const name = childJobName(key);
    const group = name === undefined ? undefined : groups[name];
    if (!group) throw new Error(`${key} is not a child job of ${parent}`);
    group.push(value);
  }
  return groups as { [C in JobTypes[P]['children']]: T[] };
}

/** The results and failures of a parent's children, by job name. */
export async function readChildren<P extends JobName>(
  parent: P,
  job: Job<JobTypes[P]['data']>,
): Promise<{ results: ChildrenResults<P>; failures: ChildrenFailures<P> }> {
  const [values, failures] = await Promise.all([job.getChildrenValues(), job.getIgnoredChildrenFailures()]);
  return {
    results: groupByChildJob(parent, values) as ChildrenResults<P>,
    failures: groupByChildJob(parent, Object.fromEntries(Object.entries(failures).map(([key, reason]) => [key, String(reason)]))),
  };
}

/**
 * Parks a running parent until its children are done: throws WaitingChildrenError (the worker puts the
 * job aside; it runs again once they are) when some are still pending, returns when none is.
 */
export async function waitForChildren(job: Job, token: string | undefined): Promise<void> {
  if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
}
