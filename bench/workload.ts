// The ANCHORS.md workload: a 100,000-row scouting_data baseline, then 100,000 changes in random order —
// 60% inserts of new ids, 30% updates and 10% deletes of baseline rows — each row's JSON about 330 bytes.
import { randomUUID } from 'node:crypto';
import type { Change } from '@catchup/changelog';

export interface Workload {
  baseline: Record<string, unknown>[];
  changes: Change[];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function scoutingRow(id: string, n: number): Record<string, unknown> {
  return {
    id,
    team_number: 1 + (n % 9000),
    match_number: 1 + (n % 120),
    event_id: null,
    scouting_team_number: 1678,
    scouter: `scout-${n % 40}`,
    data: {
      auto: { leave: n % 2 === 0, speaker: n % 5, amp: n % 3 },
      teleop: { speaker: n % 17, amp: n % 7, trap: n % 2, passes: n % 11 },
      endgame: { climb: ['none', 'park', 'onstage', 'harmony'][n % 4] },
      notes: `defended well, fast cycles, ${'x'.repeat(n % 20)}`.padEnd(120, '.'),
    },
    is_active: true,
    updated_at: new Date(1_780_000_000_000 + n * 1000).toISOString(),
  };
}

export function makeWorkload(size = 100_000, seed = 42): Workload {
  const random = rng(seed);
  const baseline = Array.from({ length: size }, (_, n) => scoutingRow(randomUUID(), n));
  const targets = shuffle(
    baseline.map((r) => r.id as string),
    random,
  );
  const inserts = Math.round(size * 0.6);
  const updates = Math.round(size * 0.3);
  const deletes = size - inserts - updates;
  type Op = { kind: 'insert' | 'update' | 'delete'; id: string; n: number };
  const ops: Op[] = [
    ...Array.from({ length: inserts }, (_, i) => ({ kind: 'insert' as const, id: randomUUID(), n: size + i })),
    ...targets.slice(0, updates).map((id, i) => ({ kind: 'update' as const, id, n: 2 * size + i })),
    ...targets.slice(updates, updates + deletes).map((id, i) => ({ kind: 'delete' as const, id, n: 3 * size + i })),
  ];
  shuffle(ops, random);
  const origin = 'bench-origin-node';
  const hlcBase = BigInt(Date.now()) * 65536n;
  const changes: Change[] = ops.map((op, i) => ({
    sequence: String(i + 1),
    table_name: 'scouting_data',
    record_id: op.id,
    operation: op.kind,
    change_data: op.kind === 'delete' ? null : scoutingRow(op.id, op.n),
    old_data: null,
    timestamp: new Date().toISOString(),
    origin_node_id: origin,
    origin_sequence: String(i + 1),
    hlc: (hlcBase + BigInt(i)).toString(),
  }));
  return { baseline, changes };
}
