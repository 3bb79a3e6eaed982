// What this node's log holds of changes a peer offers, and who delivers the ones it lacks (issue #19
// item 6). A change relayed through several nodes reaches a returning node from each of them; asking
// first, by the changes' identities (as CouchDB's revs_diff does), lets a sender leave out what the
// receiver holds by any route. A version vector (origin → highest sequence held) cannot say it here: logs
// are pruned and team scopes filter entries, so an origin's sequences have gaps on every relay.
//
// Several peers catch a returning node up at once, and each would be told "lacked" for the same change;
// so a lacked change is leased to the first asker for a while (change_delivery_leases), and the others
// are told it is pending: on its way from someone else. A sender acknowledges its range only once every
// change it left out is held here (it asks again at the end), so a lease whose holder fails only delays
// the change until the lease ends and the next asker takes it over.
import type { Sql } from './sql.ts';
import { isBigintString } from './change.ts';
import { COUNT_BLOCK } from './detect.ts';
import { scopeActionSql, type TeamScope } from './scope.ts';

/** A change's identity network-wide (origin node id, origin sequence). */
export interface ChangeIdentity {
  origin: string;
  sequence: string;
}

/** An identity with its stamp: held means the log holds that identity with that stamp (see claimLacked). */
export interface StampedIdentity extends ChangeIdentity {
  hlc: string;
}

export interface HeldAnswer {
  /** Lacked here and leased to the asker: send them now. */
  lacked: ChangeIdentity[];
  /** Lacked here but leased to another deliverer: ask again later. */
  pending: ChangeIdentity[];
  /** How many of the asked identities the log holds (by any route). */
  held: number;
}

export interface ClaimOptions {
  /** Who would deliver the lacked ones: 'push:<node id>' or 'pull:<node id>' (a retry of the same holder takes its leases back). */
  holder: string;
  leaseSeconds: number;
  /**
   * The asker's team scope here, when it has one: an entry of the log it would be left out of counts as
   * lacked — the answer tells a scoped peer nothing of entries outside its scope.
   */
  scope?: TeamScope | undefined;
}

const key = (i: ChangeIdentity) => `${i.origin}\u0000${i.sequence}`;

/** The identities once each, checked: origin ids and sequences go to SQL as array parameters. */
function distinct<T extends ChangeIdentity>(identities: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const i of identities) {
    if (!isBigintString(i.sequence)) throw new Error(`not an origin sequence: ${JSON.stringify(i.sequence)}`);
    seen.set(key(i), i);
  }
  return [...seen.values()];
}

/**
 * Which of `asked` this node lacks, leasing the lacked ones to `holder` unless another holder's lease
 * runs (those are pending). An identity counts as held when the log holds it with the same stamp: a
 * change held under its identity with another stamp is answered lacked, so that it is sent and the
 * applier refuses it as an identity conflict and raises the alert (SPEC I12), as without the check.
 * Leases are taken in identity order, so that two askers never wait on each other in a cycle.
 */
export async function claimLacked(sql: Sql, asked: readonly StampedIdentity[], options: ClaimOptions): Promise<HeldAnswer> {
  const identities = distinct(asked);
  if (identities.length === 0) return { lacked: [], pending: [], held: 0 };
  await sweepRunOutLeases(sql);
  for (const i of identities) if (!isBigintString(i.hlc)) throw new Error(`not a stamp: ${JSON.stringify(i.hlc)}`);
  const inScope = options.scope ? `AND ${scopeActionSql(options.scope, 'd')} <> 'leave_out'` : '';
  const { rows } = await sql.query<{ origin: string; sequence: string; mine: boolean }>(
    `WITH asked AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS a(origin_node_id, origin_sequence, hlc)),
          lacked AS (
            SELECT a.origin_node_id, a.origin_sequence FROM asked a
             WHERE NOT EXISTS (SELECT 1 FROM database_changes d
                                WHERE d.origin_node_id = a.origin_node_id AND d.origin_sequence = a.origin_sequence
                                  AND d.hlc = a.hlc ${inScope})),
          leased AS (
            INSERT INTO change_delivery_leases AS l (origin_node_id, origin_sequence, holder, expires_at)
            SELECT origin_node_id, origin_sequence, $4, now() + make_interval(secs => $5) FROM lacked ORDER BY 1, 2
            ON CONFLICT (origin_node_id, origin_sequence) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
            RETURNING origin_node_id, origin_sequence)
     SELECT k.origin_node_id AS origin, k.origin_sequence::text AS sequence, m.origin_node_id IS NOT NULL AS mine
       FROM lacked k LEFT JOIN leased m USING (origin_node_id, origin_sequence)
      ORDER BY 1, k.origin_sequence`,
    [identities.map((i) => i.origin), identities.map((i) => i.sequence), identities.map((i) => i.hlc), options.holder, options.leaseSeconds],
  );
  const lacked: ChangeIdentity[] = [];
  const pending: ChangeIdentity[] = [];
  for (const r of rows) (r.mine ? lacked : pending).push({ origin: r.origin, sequence: r.sequence });
  const arrived = await arrivedMeanwhile(sql, lacked, identities, inScope);
  if (arrived.size === 0) return { lacked, pending, held: identities.length - rows.length };
  // Delivered while the claim was deciding: the deliverer's lease ended as its changes were logged,
  // after the claim's snapshot, so the claim took over a lease of changes that are here now.
  const delivered = lacked.filter((i) => arrived.has(key(i)));
  await releaseLeases(sql, delivered);
  return { lacked: lacked.filter((i) => !arrived.has(key(i))), pending, held: identities.length - rows.length + delivered.length };
}

/** Which of the claimed identities the log holds now (with their asked stamps), seen in a snapshot taken after the claim. */
async function arrivedMeanwhile(sql: Sql, claimed: ChangeIdentity[], asked: StampedIdentity[], inScope: string): Promise<Set<string>> {
  if (claimed.length === 0) return new Set();
  const stamps = new Map(asked.map((i) => [key(i), i.hlc]));
  const { rows } = await sql.query<{ origin: string; sequence: string }>(
    `SELECT a.origin_node_id AS origin, a.origin_sequence::text AS sequence
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS a(origin_node_id, origin_sequence, hlc)
      WHERE EXISTS (SELECT 1 FROM database_changes d
                     WHERE d.origin_node_id = a.origin_node_id AND d.origin_sequence = a.origin_sequence AND d.hlc = a.hlc ${inScope})`,
    [claimed.map((i) => i.origin), claimed.map((i) => i.sequence), claimed.map((i) => stamps.get(key(i))!)],
  );
  return new Set(rows.map((r) => key(r)));
}

/** How often a process sweeps run-out leases away (a lease asked about again is taken over in place). */
const SWEEP_EVERY_MS = 60_000;
let lastSweep = 0;

/**
 * Deletes leases that ran out a minute ago or more: those of deliverers that failed and of changes no
 * one asked about again. Their release probes by key, so nothing else scans the table.
 */
async function sweepRunOutLeases(sql: Sql): Promise<void> {
  if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
  lastSweep = Date.now();
  await sql.query(`DELETE FROM change_delivery_leases WHERE ctid IN (
    SELECT ctid FROM change_delivery_leases WHERE expires_at < now() - interval '1 minute' FOR UPDATE SKIP LOCKED)`);
}

/**
 * The statement that ends the leases of delivered changes, given as a FROM item of (origin_node_id,
 * origin_sequence): each probed by key, never a scan of the whole table. Rows another statement has
 * locked are skipped, never waited for: a lease left behind only runs out (claimLacked takes over run-out
 * leases and sweeps them).
 */
export const releaseLeasesSql = (delivered: string) => `DELETE FROM change_delivery_leases WHERE ctid IN (
    SELECT l.ctid FROM ${delivered} JOIN change_delivery_leases l USING (origin_node_id, origin_sequence) FOR UPDATE OF l SKIP LOCKED)`;

/** Ends the leases of delivered changes: called once a batch holding them is applied or refused. */
export async function releaseLeases(sql: Sql, delivered: readonly ChangeIdentity[]): Promise<void> {
  const identities = distinct(delivered);
  if (identities.length === 0) return;
  await sql.query(releaseLeasesSql('unnest($1::text[], $2::bigint[]) AS d(origin_node_id, origin_sequence)'), [
    identities.map((i) => i.origin),
    identities.map((i) => i.sequence),
  ]);
}

/**
 * Whether the log's range (after, upTo] may hold an entry that none of `origins` made (scope exits, which
 * no node sends on, aside): a change a third node made, which may have reached the receiver by another
 * route. Read from change_log_counts, whose blocks of positions (see detect.ts) may reach past the range:
 * a yes can be a block's, never a no.
 */
export async function rangeHoldsOtherOrigins(sql: Sql, range: { after: string; upTo: string }, origins: readonly string[]): Promise<boolean> {
  const { rows } = await sql.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM change_log_counts
                     WHERE bucket BETWEEN ($1::bigint + 1) / ${COUNT_BLOCK} AND $2::bigint / ${COUNT_BLOCK}
                       AND origin_node_id <> ALL ($3::text[]) AND entries > 0) AS found`,
    [range.after, range.upTo, origins],
  );
  return rows[0]!.found;
}
