// The peer API's wire shapes (snake_case), as zod schemas: the client validates every answer by them, and
// the server's route schemas may use the same definitions. The TypeScript types derive from them.
import { z } from 'zod';
import { bigintString, changeSchema, parseRowKeyCursor } from '@catchup/changelog';
import { contentEncodingsSchema } from './compression.ts';

const count = z.number().int().nonnegative();

export const pingResponseSchema = z.object({
  node_id: z.string().min(1).max(100),
  node_name: z.string(),
  version: z.string(),
  latest_sequence: bigintString,
  /** Newest change sequence of this node's file manifest. */
  latest_file_seq: bigintString,
  /** This node's wall clock as its hybrid logical clock reads it. */
  server_time: z.iso.datetime({ offset: true }),
  /**
   * Highest position pruned from this node's log (SPEC I11): a reader whose cursor is below it is caught
   * up by a full baseline. Absent from nodes that do not prune (read as never pruned).
   */
  pruned_through: bigintString.optional(),
  /** The request body encodings this node takes, best first (see compression.ts); absent: none. */
  content_encodings: contentEncodingsSchema.optional(),
  /**
   * The sha256 fingerprint of the certificate this node serves HTTPS with (upper-case hex pairs joined by
   * colons): what a peer pins to trust it. Absent when it serves plain http.
   */
  tls_fingerprint: z
    .string()
    .regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/)
    .optional(),
});
export type PingResponse = z.infer<typeof pingResponseSchema>;

/** A page's position fields, beside its changes. */
export const changesPagePositionSchema = z.object({
  next_cursor: bigintString,
  has_more: z.boolean(),
  latest_sequence: bigintString,
  /** The log's pruned horizon when the page was read (see pingResponseSchema). */
  pruned_through: bigintString.optional(),
  /** A page read in row-key order: where the next one starts (absent after the last). */
  next_key: z
    .string()
    .refine((key) => parseRowKeyCursor(key) !== null, 'a row-key cursor: table/record_id/position')
    .optional(),
});

export const changesPageResponseSchema = changesPagePositionSchema.extend({ changes: z.array(changeSchema) });

/** GET /changes/summary: what a catch-up would move from the peer's log to the reader, per table. */
export const changesSummaryResponseSchema = z.object({
  tables: z.array(z.object({ table_name: z.string(), changes: count })),
  changes: count,
  latest_sequence: bigintString,
  pruned_through: bigintString,
});
export type ChangesSummaryResponse = z.infer<typeof changesSummaryResponseSchema>;
export type ChangesPageResponse = z.infer<typeof changesPageResponseSchema>;

export const applyResponseSchema = z.object({
  received: count,
  applied: count,
  skipped_duplicate: count,
  skipped_stale: count,
});
export type ApplyResponse = z.infer<typeof applyResponseSchema>;

export const fileManifestEntrySchema = z.object({
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256'),
  size: count,
  mtime: z.iso.datetime({ offset: true }),
  change_seq: bigintString,
  deleted: z.boolean(),
});
export type FileManifestEntry = z.infer<typeof fileManifestEntrySchema>;

export const fileManifestResponseSchema = z.object({
  path: z.string(),
  files: z.array(fileManifestEntrySchema),
  next_seq: bigintString,
  has_more: z.boolean(),
  /** Absent from a node of a version before it. */
  latest_seq: bigintString.optional(),
});
export type FileManifestResponse = z.infer<typeof fileManifestResponseSchema>;

/** GET /files/blocks: a file's block list (block deltas): its blocks' sha256 in order, and the whole file's. */
export const fileBlocksResponseSchema = z.object({
  block_size: z
    .number()
    .int()
    .min(4096)
    .max(16 * 1024 * 1024),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mtime_ms: z.number().int().nonnegative(),
  blocks: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
});
export type FileBlocksResponse = z.infer<typeof fileBlocksResponseSchema>;

export const deleteFileResponseSchema = z.object({ deleted: z.boolean() });
export type DeleteFileResponse = z.infer<typeof deleteFileResponseSchema>;

/** The query of a peer's GET /changes. */
export interface FetchChangesQuery {
  after: string;
  limit: number;
  upTo?: string;
  excludeOrigin?: string;
  /** 'key': the range in row-key order (a full baseline); pages after the first start at `afterKey`. */
  order?: 'key';
  afterKey?: string;
}

export interface DownloadedFile {
  stream: import('node:stream').Readable;
  sha256: string;
  size: number;
  mtimeMs: number;
}

/** A digest of rows: how many and md5 over them (see @catchup/changelog digest.ts). */
const bucketDigestSchema = z.object({ bucket: z.string(), rows: count, digest: z.string() });
const loggedStandingSchema = z.object({ hlc: bigintString, node: z.string(), sequence: bigintString, operation: z.string() });

/**
 * GET /digest: without a table, every synced table's digest (with its first-level buckets) and every
 * folder's manifest root hash; with a table, a bucket's sub-buckets (`bucket`), its rows (`rows=true`) or
 * what the table and log hold of named rows (`ids`).
 */
export const digestResponseSchema = z.object({
  node_id: z.string(),
  tables: z.array(z.object({ table_name: z.string(), rows: count, digest: z.string(), buckets: z.array(bucketDigestSchema) })).optional(),
  folders: z.array(z.object({ directory: z.string(), files: count, root_hash: z.string() })).optional(),
  buckets: z.array(bucketDigestSchema).optional(),
  rows: z.array(z.object({ id: z.string(), digest: z.string() })).optional(),
  standings: z
    .array(z.object({ id: z.string(), digest: z.string().nullable(), version: loggedStandingSchema.nullable(), matches_log: z.boolean().nullable() }))
    .optional(),
});
export type DigestResponse = z.infer<typeof digestResponseSchema>;

/** What GET /digest is asked: nothing (the top), a table's bucket (sub-buckets or rows), or named rows' standings. */
export type DigestQuery = { table?: undefined } | { table: string; bucket: string; rows?: boolean } | { table: string; ids: string[] };
