// POST /changes/stream's answer: what the peer did with a log stream (see @catchup/changelog log-stream.ts).
import { z } from 'zod';

const count = z.number().int().nonnegative();

export const logStreamResponseSchema = z.object({
  received: count,
  applied: count,
  skipped_duplicate: count,
  skipped_stale: count,
  /** Of the received, deletes (tombstones). */
  deletes: count,
});
export type LogStreamResponse = z.infer<typeof logStreamResponseSchema>;
