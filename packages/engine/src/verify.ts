// Verify and repair (`catchup verify --server ID [--repair]`, POST /api/sync/verify): compares this node's
// synced tables and folders with a peer's by digests (see @catchup/changelog digest.ts), descending only
// into tables and buckets whose digests differ, and names the differing rows and files. Repair logs this
// node's current state of a differing row as a new change of this node, so that the next catch-up carries
// it to the peer — only where this node is not behind the peer's log for that row.
import {
  bucketDigests,
  compareVersions,
  MAX_BUCKET_DIGITS,
  MAX_STANDING_IDS,
  relogRows,
  rowDigests,
  rowStandings,
  tableDigests,
  type BucketDigest,
  type LoggedStanding,
  type RowDigest,
  type RowStanding,
} from '@catchup/changelog';
import { manifestDigest, manifestMap, scanDirectory, type FileDirectory } from '@catchup/files';
import type { DigestResponse, PeerClient } from '@catchup/peer-client';
import { z } from 'zod';
import type { EngineContext } from './context.ts';
import { enabledDirectories } from './files.ts';
import { teamScopeOf } from './team-scope.ts';

/** A bucket holding at most this many rows (on either side) is compared row by row. */
export const LEAF_ROWS = 1000;
/** The most differing rows one verify names per table; past it the report says it stopped. */
export const MAX_REPORTED_ROWS = 1000;
/** The most differing files one verify names per folder. */
export const MAX_REPORTED_FILES = 1000;

const KINDS = ['only_here', 'only_there', 'differs'] as const;
export type DifferenceKind = (typeof KINDS)[number];

/**
 * What repair does with a differing row:
 * - `relog`: this node's row is logged as a new change of this node; a catch-up carries it to the peer;
 * - `relog_delete`: the row is absent here and this node's log says it was deleted: the delete is logged
 *   again as a new change, which a catch-up carries to the peer;
 * - `catch_up`: the peer's log holds a newer version of the row than this node's: a catch-up brings it
 *   here (repair leaves it alone: re-logging this node's row would beat a newer write);
 * - `repair_on_peer`: only the peer holds the row and this node's log has no delete of it: repairing from
 *   here would delete a row nobody deleted; verify --repair on the peer logs it there.
 */
export const REPAIR_ACTIONS = ['relog', 'relog_delete', 'catch_up', 'repair_on_peer'] as const;
export type RepairAction = (typeof REPAIR_ACTIONS)[number];

const versionSchema = z.object({ hlc: z.string(), node: z.string(), sequence: z.string(), operation: z.string() }).nullable();

export const rowDifferenceSchema = z.object({
  id: z.string(),
  kind: z.enum(KINDS),
  here: z.object({ version: versionSchema, matches_log: z.boolean().nullable() }),
  there: z.object({ version: versionSchema, matches_log: z.boolean().nullable() }),
  action: z.enum(REPAIR_ACTIONS),
  repaired: z.boolean(),
});
export type RowDifference = z.infer<typeof rowDifferenceSchema>;

export const verifyReportSchema = z.object({
  server_id: z.number(),
  server_name: z.string(),
  level: z.boolean().describe('every synced table and folder holds the same rows and files on both nodes'),
  seconds: z.number(),
  tables: z.array(
    z.object({
      table_name: z.string(),
      synced: z.enum(['both', 'here', 'there']).describe('where the table is synced (a table synced on one side only is not level)'),
      rows_here: z.number().nullable(),
      rows_there: z.number().nullable(),
      level: z.boolean(),
      differing_rows: z.array(rowDifferenceSchema),
      truncated: z.boolean().describe(`more than ${MAX_REPORTED_ROWS} rows differ: only the first are named`),
    }),
  ),
  folders: z.array(
    z.object({
      directory: z.string(),
      files_here: z.number(),
      files_there: z.number().nullable(),
      level: z.boolean(),
      differing_files: z.array(z.object({ path: z.string(), kind: z.enum(KINDS) })),
      truncated: z.boolean(),
    }),
  ),
  repair: z
    .object({
      relogged_rows: z.number(),
      relogged_deletes: z.number(),
      left: z.number().describe('differing rows repair left alone (catch_up, repair_on_peer)'),
    })
    .nullable()
    .describe('null unless repair was asked for'),
  next_step: z.string().nullable(),
});
export type VerifyReport = z.infer<typeof verifyReportSchema>;

/** Verify refuses this peer (a team scope: its tables hold only some rows by design). */
export class VerifyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyRefusedError';
  }
}

/** The buckets whose digests differ, with the larger side's row count (pure; both lists in bucket order or not). */
export function differingBuckets(here: BucketDigest[], there: BucketDigest[]): { bucket: string; rows: number }[] {
  const theirs = new Map(there.map((b) => [b.bucket, b]));
  const out = new Map<string, number>();
  for (const b of here) {
    const t = theirs.get(b.bucket);
    if (!t || t.digest !== b.digest) out.set(b.bucket, Math.max(b.rows, t?.rows ?? 0));
  }
  const ours = new Set(here.map((b) => b.bucket));
  for (const t of there) if (!ours.has(t.bucket)) out.set(t.bucket, t.rows);
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([bucket, rows]) => ({ bucket, rows }));
}

/** The rows that differ between two listings of one bucket, in id order (pure). */
export function differingRows(here: RowDigest[], there: RowDigest[]): { id: string; kind: DifferenceKind }[] {
  return differingKeys(new Map(here.map((r) => [r.id, r.digest])), new Map(there.map((r) => [r.id, r.digest])));
}

/** The keys whose values differ between two maps, in key order (bytewise): only here, only there, or both with other values (pure). */
export function differingKeys(here: Map<string, string>, there: Map<string, string>): { id: string; kind: DifferenceKind }[] {
  const out: { id: string; kind: DifferenceKind }[] = [];
  for (const [id, digest] of here) {
    const theirs = there.get(id);
    if (theirs === undefined) out.push({ id, kind: 'only_here' });
    else if (theirs !== digest) out.push({ id, kind: 'differs' });
  }
  for (const id of there.keys()) if (!here.has(id)) out.push({ id, kind: 'only_there' });
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const asVersion = (v: LoggedStanding) => ({ hlc: v.hlc, node: v.node, sequence: v.sequence });

/**
 * What repair does with a row that differs (pure; see REPAIR_ACTIONS). The winner is the row's standing
 * version in the logs — newest by hybrid logical clock, then node id, then origin sequence. When the
 * peer's log holds the newer one, a catch-up brings it; otherwise this node holds the winner (or both
 * logs hold the same), and its table's state is what goes to the peer, as a new change of this node.
 */
export function repairAction(here: Pick<RowStanding, 'digest' | 'version'>, there: Pick<RowStanding, 'version'>): RepairAction {
  if (there.version && (!here.version || compareVersions(asVersion(there.version), asVersion(here.version)) > 0)) return 'catch_up';
  if (here.digest !== null) return 'relog';
  if (here.version?.operation === 'delete') return 'relog_delete';
  return 'repair_on_peer';
}

interface TableSide {
  rows: number;
  digest: string;
  buckets: BucketDigest[];
}

/** Finds the differing rows of one table by descending through differing buckets only. */
async function findDifferingRows(
  ctx: EngineContext,
  client: PeerClient,
  table: string,
  here: BucketDigest[],
  there: BucketDigest[],
  found: { id: string; kind: DifferenceKind }[],
): Promise<void> {
  for (const { bucket, rows } of differingBuckets(here, there)) {
    if (found.length > MAX_REPORTED_ROWS) return;
    if (rows <= LEAF_ROWS || bucket.length >= MAX_BUCKET_DIGITS) {
      const [ours, theirs] = await Promise.all([rowDigests(ctx.pool, table, bucket), client.digest({ table, bucket, rows: true })]);
      if (!ours || !theirs.rows) throw new Error(`bucket ${bucket} of ${table} holds too many rows to list`);
      found.push(...differingRows(ours, theirs.rows));
    } else {
      const [ours, theirs] = await Promise.all([bucketDigests(ctx.pool, table, bucket), client.digest({ table, bucket })]);
      await findDifferingRows(ctx, client, table, ours, theirs.buckets ?? [], found);
    }
  }
}

async function standingsOf(ctx: EngineContext, client: PeerClient, table: string, ids: string[]) {
  const here = new Map<string, RowStanding>();
  const there = new Map<string, NonNullable<DigestResponse['standings']>[number]>();
  for (let i = 0; i < ids.length; i += MAX_STANDING_IDS) {
    const chunk = ids.slice(i, i + MAX_STANDING_IDS);
    const [ours, theirs] = await Promise.all([rowStandings(ctx.pool, table, chunk), client.digest({ table, ids: chunk })]);
    for (const s of ours) here.set(s.id, s);
    for (const s of theirs.standings ?? []) there.set(s.id, s);
  }
  return { here, there };
}

async function verifyFolder(ctx: EngineContext, client: PeerClient, directory: FileDirectory, thereDigest: DigestResponse['folders']) {
  const ours = await manifestDigest(ctx.pool, directory);
  const theirs = thereDigest?.find((f) => f.directory === directory);
  const base = { directory, files_here: ours.files, files_there: theirs?.files ?? null };
  if (theirs && theirs.root_hash === ours.root_hash) return { ...base, level: true, differing_files: [], truncated: false };
  const local = new Map<string, string>();
  for (const [file, entry] of await manifestMap(ctx.pool, directory)) if (!entry.deleted) local.set(file, entry.sha256);
  const remote = new Map<string, string>();
  if (theirs) {
    // The peer scanned its folder for the digest just now: its manifest is read as it stands.
    for (let after = '0', more = true; more; ) {
      const page = await client.fileManifest(directory, after, 10_000, false);
      for (const f of page.files) {
        if (f.deleted) remote.delete(f.path);
        else remote.set(f.path, f.sha256);
      }
      after = page.next_seq;
      more = page.has_more;
    }
  }
  const files = differingKeys(local, remote).map((d) => ({ path: d.id, kind: d.kind }));
  return { ...base, level: false, differing_files: files.slice(0, MAX_REPORTED_FILES), truncated: files.length > MAX_REPORTED_FILES };
}

/**
 * Compares this node's synced tables and folders with the peer's; with `repair`, logs this node's state
 * of each differing row it holds the winner of as a new change of this node (see repairAction). Null
 * when no such peer is registered. A peer with a team scope here is refused (VerifyRefusedError): its
 * tables hold only its teams' rows by design; a peer that refuses this node (its scope there) answers 403.
 */
export async function verifyPeer(ctx: EngineContext, serverId: number, options: { repair?: boolean } = {}): Promise<VerifyReport | null> {
  const started = performance.now();
  const server = await ctx.db.syncServer.findUnique({ where: { id: serverId } });
  if (!server) return null;
  if (await teamScopeOf(ctx, server)) {
    throw new VerifyRefusedError(`${server.name} has a team scope on this node: its tables hold only its teams' rows, so whole tables cannot be compared`);
  }
  const client = ctx.peerClient(server, await ctx.settings());
  const directories = enabledDirectories(server);
  for (const directory of directories) await scanDirectory(ctx.pool, ctx.dataDir, directory, { exclude: ctx.fileExclude });
  const [there, hereTables] = await Promise.all([client.digest(), server.syncDatabase ? tableDigests(ctx.pool) : Promise.resolve([])]);
  const thereTables = new Map<string, TableSide>(server.syncDatabase ? (there.tables ?? []).map((t) => [t.table_name, t]) : []);
  const hereByName = new Map<string, TableSide>(hereTables.map((t) => [t.table_name, t]));
  const names = [...new Set([...hereByName.keys(), ...thereTables.keys()])].sort();

  const report: VerifyReport = {
    server_id: server.id,
    server_name: server.name,
    level: true,
    seconds: 0,
    tables: [],
    folders: [],
    repair: options.repair ? { relogged_rows: 0, relogged_deletes: 0, left: 0 } : null,
    next_step: null,
  };
  for (const table of names) {
    const here = hereByName.get(table);
    const theirs = thereTables.get(table);
    const entry = {
      table_name: table,
      synced: here && theirs ? ('both' as const) : here ? ('here' as const) : ('there' as const),
      rows_here: here?.rows ?? null,
      rows_there: theirs?.rows ?? null,
      level: !!here && !!theirs && here.digest === theirs.digest,
      differing_rows: [] as RowDifference[],
      truncated: false,
    };
    report.tables.push(entry);
    if (entry.level || !here || !theirs) continue;
    const found: { id: string; kind: DifferenceKind }[] = [];
    await findDifferingRows(ctx, client, table, here.buckets, theirs.buckets, found);
    entry.truncated = found.length > MAX_REPORTED_ROWS;
    const named = found.slice(0, MAX_REPORTED_ROWS);
    const standings = await standingsOf(
      ctx,
      client,
      table,
      named.map((d) => d.id),
    );
    const relog: string[] = [];
    const deletes: string[] = [];
    for (const d of named) {
      const ours = standings.here.get(d.id) ?? { id: d.id, digest: null, version: null, matches_log: null };
      const peer = standings.there.get(d.id) ?? { id: d.id, digest: null, version: null, matches_log: null };
      const action = repairAction(ours, peer);
      if (action === 'relog') relog.push(d.id);
      else if (action === 'relog_delete') deletes.push(d.id);
      entry.differing_rows.push({
        id: d.id,
        kind: d.kind,
        here: { version: ours.version, matches_log: ours.matches_log },
        there: { version: peer.version, matches_log: peer.matches_log },
        action,
        repaired: false,
      });
    }
    if (report.repair && (relog.length || deletes.length)) {
      const done = await relogRows(ctx.pool, table, relog, deletes);
      report.repair.relogged_rows += done.rows;
      report.repair.relogged_deletes += done.deletes;
      for (const row of entry.differing_rows) row.repaired = row.action === 'relog' || row.action === 'relog_delete';
    }
    if (report.repair) report.repair.left += entry.differing_rows.filter((r) => !r.repaired).length;
  }
  for (const directory of directories) report.folders.push(await verifyFolder(ctx, client, directory, there.folders));

  report.level = report.tables.every((t) => t.level) && report.folders.every((f) => f.level);
  report.next_step = nextStep(report);
  report.seconds = Math.round(performance.now() - started) / 1000;
  return report;
}

/** What the operator does next, in words (pure). */
export function nextStep(report: Pick<VerifyReport, 'level' | 'tables' | 'folders' | 'repair'>): string | null {
  if (report.level) return null;
  const rows = report.tables.flatMap((t) => t.differing_rows);
  const steps: string[] = [];
  if (report.repair && report.repair.relogged_rows + report.repair.relogged_deletes > 0) {
    steps.push('a catch-up (scan) now carries the re-logged rows to the peer; verify again after it');
  } else if (rows.some((r) => r.action === 'relog' || r.action === 'relog_delete')) {
    steps.push('verify --repair logs this node\u2019s version of the rows it holds the winner of, then a catch-up (scan) carries them');
  }
  if (rows.some((r) => r.action === 'catch_up') || report.folders.some((f) => !f.level)) {
    steps.push('a catch-up (scan) brings what the peer holds newer, and syncs the folders');
  }
  if (rows.some((r) => r.action === 'repair_on_peer')) steps.push('rows only the peer holds and nobody deleted: run verify --repair on the peer');
  if (report.tables.some((t) => t.synced !== 'both')) steps.push('a table synced on one side only: put it under sync on both (or neither)');
  return steps.join('; ') || null;
}
