// What one catch-up of one peer did: the shape the API returns, sync_logs stores and the CLI prints
// (snake_case), defined once as a schema; the TypeScript types are derived from it.
import { z } from 'zod';

const isoDate = z.string().describe('ISO 8601 timestamp');

export const fileChangesSchema = z.object({ uploaded: z.number(), downloaded: z.number(), deleted: z.number(), conflicts: z.number(), bytes: z.number() });

/** What a full baseline moved, by direction: rows (their standing versions) and tombstones. */
export const fullBaselineCountsSchema = z.object({
  directions: z.array(z.enum(['send', 'receive'])),
  rows_sent: z.number(),
  tombstones_sent: z.number(),
  rows_received: z.number(),
  tombstones_received: z.number(),
});

export const catchupResultSchema = z.object({
  server_id: z.number(),
  server_name: z.string(),
  started_at: isoDate,
  completed_at: isoDate,
  success: z.boolean(),
  database_changes: z.object({
    sent: z.number(),
    received: z.number(),
    applied: z.number(),
    skipped_duplicate: z.number(),
    skipped_stale: z.number(),
    held_by_peer: z
      .number()
      .optional()
      .describe('changes not sent because the peer held them already, relayed by another node (sent + held_by_peer: what the peer lacked by cursor)'),
    held_here: z.number().optional().describe("changes of the peer's log not read because this node held them already"),
  }),
  file_changes: fileChangesSchema,
  errors: z.array(z.string()),
  duration: z.number().describe('seconds'),
  mode: z
    .enum(['incremental', 'full baseline'])
    .describe("'full baseline' when a direction's reader was behind the pruned horizon of the log it read (SPEC I11)"),
  full_baseline: fullBaselineCountsSchema.optional(),
});

export type CatchupResult = z.infer<typeof catchupResultSchema>;
export type FileChanges = z.infer<typeof fileChangesSchema>;
export type FullBaselineCounts = z.infer<typeof fullBaselineCountsSchema>;

/** No file moved: a run without folders, or one that never reached them. */
export function noFileChanges(): FileChanges {
  return { uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0, bytes: 0 };
}

/** The file changes of a run: the sum over its folders. */
export function sumFileChanges(folders: FileChanges[]): FileChanges {
  const total = noFileChanges();
  for (const f of folders) {
    total.uploaded += f.uploaded;
    total.downloaded += f.downloaded;
    total.deleted += f.deleted;
    total.conflicts += f.conflicts;
    total.bytes += f.bytes;
  }
  return total;
}

/** The one-line summary of a run stored in sync_logs.details. */
export function describeResult(result: CatchupResult): string {
  const db = result.database_changes;
  const files = result.file_changes.uploaded + result.file_changes.downloaded + result.file_changes.deleted;
  const held = (db.held_by_peer ?? 0) + (db.held_here ?? 0);
  const heldText = held ? `; ${held} held by the other side already, not moved` : '';
  let text = `Applied ${db.applied} database changes, ${files} files synced (sent ${db.sent}, received ${db.received}${heldText})`;
  const baseline = result.full_baseline;
  if (baseline) {
    const parts = [
      ...(baseline.directions.includes('send') ? [`sent ${baseline.rows_sent} rows and ${baseline.tombstones_sent} tombstones`] : []),
      ...(baseline.directions.includes('receive') ? [`received ${baseline.rows_received} rows and ${baseline.tombstones_received} tombstones`] : []),
    ];
    text = `Full baseline (${parts.join('; ')}): ${text}`;
  }
  return result.errors.length ? `${text}; ${result.errors.length} error(s)` : text;
}
