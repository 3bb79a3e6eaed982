import type { Logger } from 'pino';

/**
 * Logs errors that repeat while a fault lasts (a lost connection retried every second): each distinct
 * message is logged at once, then at most once per `intervalMs`, with how many repeats were left out.
 */
export function repeatedErrorLog(logger: Logger, msg: string, intervalMs = 30_000): (err: unknown, fields?: Record<string, unknown>) => void {
  const last = new Map<string, { at: number; left: number }>();
  return (err, fields = {}) => {
    const key = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    const seen = last.get(key);
    if (seen && now - seen.at < intervalMs) {
      seen.left++;
      return;
    }
    logger.error({ err, ...fields, ...(seen?.left ? { repeats_left_out: seen.left } : {}) }, msg);
    last.delete(key);
    last.set(key, { at: now, left: 0 });
    if (last.size > 100) last.delete(last.keys().next().value!);
  };
}
