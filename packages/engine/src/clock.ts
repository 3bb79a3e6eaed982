// This node's wall clock, and how far a peer's is from it (SPEC I13).
import type { Pool } from '@catchup/db';

/** This node's wall clock as its hybrid logical clock reads it (catchup_wall_clock_ms(): PostgreSQL's clock, shifted by catchup.clock_offset_ms). */
export async function nodeWallClock(pool: Pool): Promise<Date> {
  const { rows } = await pool.query<{ ms: string }>('SELECT catchup_wall_clock_ms()::text AS ms');
  return new Date(Number(rows[0]!.ms));
}

/** A peer's clock offset in whole milliseconds: its clock minus this node's when it answered (the midpoint of the call). */
export function clockOffsetMs(peerTime: Date, localBefore: Date, localAfter: Date): number {
  return Math.round(peerTime.getTime() - (localBefore.getTime() + localAfter.getTime()) / 2);
}

/**
 * Why a peer is not caught up with, when its clock is further from this node's than the bound allows
 * (its stamps would be refused, or would beat later edits everywhere); null when it is within the bound.
 */
export function clockRefusal(offsetMs: number, maxSkewSeconds: number, peerName: string): string | null {
  if (Math.abs(offsetMs) <= maxSkewSeconds * 1000) return null;
  return `clock offset ${offsetMs > 0 ? '+' : ''}${offsetMs} ms exceeds catchup_max_clock_skew_seconds (${maxSkewSeconds} s); fix the clock of ${peerName} or raise the setting`;
}
