// Shapes shared by several routes (response serialization and OpenAPI come from these).
import { z } from 'zod';
export { bigintString } from '@catchup/changelog';

export const isoDate = z.string().describe('ISO 8601 timestamp');
export const nullableIso = isoDate.nullable();
export const toIso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export const errorBody = z.object({ statusCode: z.number(), error: z.string(), message: z.string() });
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  404: errorBody,
  413: errorBody,
};

/** Largest PostgreSQL int: row ids (serial columns) never exceed it, and the database refuses a larger one. */
export const PG_INT_MAX = 2_147_483_647;
/** A row id as a JSON number. */
export const rowId = z.number().int().positive().max(PG_INT_MAX);
/** A row id in a query string or path. */
export const rowIdText = z.coerce.number().int().positive().max(PG_INT_MAX);
export const idParams = z.object({ id: rowIdText });


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
  }),
  file_changes: z.object({ uploaded: z.number(), downloaded: z.number(), deleted: z.number(), conflicts: z.number(), bytes: z.number() }),
  errors: z.array(z.string()),
  duration: z.number().describe('seconds'),
  mode: z.enum(['incremental', 'full baseline']).describe("'full baseline' when a direction's reader was behind the pruned horizon of the log it read (SPEC I11)"),
  full_baseline: z
    .object({
      directions: z.array(z.enum(['send', 'receive'])),
      rows_sent: z.number(),
      tombstones_sent: z.number(),
      rows_received: z.number(),
      tombstones_received: z.number(),
    })
    .optional(),
});
