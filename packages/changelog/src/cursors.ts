// Cursors move only over acknowledged work (I8). Each batch acknowledges a range (from, to]; the cursor
// advances while an acknowledged range starts at or before it, so a failed batch in the middle holds it.
import { inTransaction, type Pool } from '@catchup/db';

export type CursorDirection = 'sent' | 'received';

const cursorColumn = { sent: 'sent_cursor', received: 'received_cursor' } as const;

export interface AckRange {
  from: string;
  to: string;
}

/** Records that the range was acknowledged and advances the cursor as far as contiguity allows. Returns the cursor. */
export async function acknowledgeRange(pool: Pool, serverId: number, direction: CursorDirection, range: AckRange): Promise<string> {
  if (BigInt(range.to) < BigInt(range.from)) throw new Error(`empty range (${range.from}, ${range.to}]`);
  return inTransaction(pool, async (client) => {
    const column = cursorColumn[direction];
    const server = await client.query<{ cursor: string }>(`SELECT ${column}::text AS cursor FROM sync_servers WHERE id = $1 FOR UPDATE`, [serverId]);
    if (!server.rows[0]) throw new Error(`unknown server ${serverId}`);
    let cursor = BigInt(server.rows[0].cursor);
    if (BigInt(range.to) <= cursor) return cursor.toString();

    await client.query(
      `INSERT INTO sync_acks (server_id, direction, from_seq, to_seq) VALUES ($1, $2, $3, $4)
       ON CONFLICT (server_id, direction, from_seq) DO UPDATE SET to_seq = GREATEST(sync_acks.to_seq, EXCLUDED.to_seq)`,
      [serverId, direction, range.from, range.to],
    );
    const acks = await client.query<{ from_seq: string; to_seq: string }>(
      `SELECT from_seq::text AS from_seq, to_seq::text AS to_seq FROM sync_acks
        WHERE server_id = $1 AND direction = $2 ORDER BY sync_acks.from_seq`,
      [serverId, direction],
    );
    for (const ack of acks.rows) {
      if (BigInt(ack.from_seq) > cursor) break;
      if (BigInt(ack.to_seq) > cursor) cursor = BigInt(ack.to_seq);
    }
    await client.query(`DELETE FROM sync_acks WHERE server_id = $1 AND direction = $2 AND to_seq <= $3`, [serverId, direction, cursor.toString()]);
    await client.query(`UPDATE sync_servers SET ${column} = $2 WHERE id = $1`, [serverId, cursor.toString()]);
    return cursor.toString();
  });
}

export async function getCursor(pool: Pool, serverId: number, direction: CursorDirection): Promise<string> {
  const { rows } = await pool.query<{ cursor: string }>(`SELECT ${cursorColumn[direction]}::text AS cursor FROM sync_servers WHERE id = $1`, [serverId]);
  if (!rows[0]) throw new Error(`unknown server ${serverId}`);
  return rows[0].cursor;
}
