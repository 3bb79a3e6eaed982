import type { Sql } from './sql.ts';

export interface NodeIdentity {
  nodeId: string;
  name: string | null;
}

/** This node's identity, created on first use. Naming it is optional and may change. */
export async function getNodeIdentity(sql: Sql, name?: string): Promise<NodeIdentity> {
  const { rows } = await sql.query<{ node_id: string }>('SELECT catchup_node_id() AS node_id');
  if (name !== undefined) await sql.query('UPDATE sync_node SET name = $1 WHERE id = 1', [name]);
  const named = await sql.query<{ name: string | null }>('SELECT name FROM sync_node WHERE id = 1');
  return { nodeId: rows[0]!.node_id, name: named.rows[0]?.name ?? null };
}
