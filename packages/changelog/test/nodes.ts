// Test nodes: a migrated database each, with a pg pool and the node's identity.
import { afterAll } from 'vitest';
import { createPool, type Pool } from '@catchup/db';
import { applyBatch, getNodeIdentity, type ApplyResult } from '@catchup/changelog';
import { sampleTablesDigest, useTestDatabases, type TestDatabase } from '@catchup/testing';

export interface TestNode {
  name: string;
  database: TestDatabase;
  pool: Pool;
  nodeId: string;
}

export async function useNodes(count: number, label = 'node'): Promise<TestNode[]> {
  const dbs = await useTestDatabases(count, label);
  const nodes = await Promise.all(
    dbs.map(async (database, i) => {
      const pool = createPool(database.url, 4);
      const { nodeId } = await getNodeIdentity(pool, `${label}${i}`);
      return { name: `${label}${i}`, database, pool, nodeId };
    }),
  );
  // Registered after the databases' hook, so it runs first (vitest runs afterAll hooks in reverse).
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.pool.end()));
  });
  return nodes;
}

/** Every synced table's rows, sorted, as one comparable value. */
export const tableDigest = sampleTablesDigest;

export async function logIdentities(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT origin_node_id || '/' || origin_sequence AS id FROM database_changes ORDER BY 1`);
  return rows.map((r) => r.id);
}

export async function logCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM database_changes');
  return Number(rows[0]!.n);
}

/** The default clock bound (catchup_max_clock_skew_seconds = 300). */
export const MAX_CLOCK_SKEW_MS = 300_000;

/** Applies a batch on a node as its peer API would: under its identity and clock bound. */
export function applyTo(node: TestNode, changes: unknown[], maxClockSkewMs = MAX_CLOCK_SKEW_MS): Promise<ApplyResult> {
  return applyBatch(node.pool, changes, { nodeId: node.nodeId, maxClockSkewMs });
}
