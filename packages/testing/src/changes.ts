// Changes as a peer sends them, for tests that apply or relay them.
import { randomUUID } from 'node:crypto';
import type { Change } from '@catchup/changelog';

/** A remote insert of a new team from `origin`, stamped now unless told otherwise. */
export function teamChange(origin: string, sequence: string | number, name: string, hlc = BigInt(Date.now()) * 65536n): Change {
  const id = randomUUID();
  return {
    table_name: 'teams',
    record_id: id,
    operation: 'insert',
    change_data: { id, team_number: 4242, name, scouting_team_number: 1, is_active: true, updated_at: new Date().toISOString() },
    old_data: null,
    timestamp: new Date().toISOString(),
    origin_node_id: origin,
    origin_sequence: String(sequence),
    hlc: hlc.toString(),
  };
}
