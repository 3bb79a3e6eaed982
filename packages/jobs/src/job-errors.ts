// How a failure reads in a job: its message, and whether retrying it can help.
import { BatchRejectedError } from '@catchup/changelog';
import { PeerError } from '@catchup/peer-client';
import { UnrecoverableError } from '@catchup/queue';

export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The error a batch job fails with, naming its range (the parent lists these). Failures that retrying
 * cannot fix (the peer refused the request, a batch was rejected) end the job at once, without backoff.
 */
export function asJobError(err: unknown, what: string): Error {
  const text = `${what}: ${message(err)}`;
  if ((err instanceof PeerError && !err.retryable) || err instanceof BatchRejectedError) return new UnrecoverableError(text);
  return new Error(text);
}
