// Property: a log stream's bulk way reaches the applier's verdict (see log-stream.ts). Two nodes hold the
// same history; the same changes then reach one as a log stream, cut into chunks of any size and written
// two at a time, and the other as one batch through the applier. Both end with identical tables and
// identical change identities, and — when the stream is one chunk — with the same counts. The changes
// touch a few rows that both nodes hold, at stamps close enough to tie, from several origins, with
// repeats of identities already logged. PROPERTY_RUNS raises the number of runs (npm run test:property).
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyIncoming, applyLogStream, checkChanges, type ApplyResult, type Change } from '@catchup/changelog';
import { logIdentities, MAX_CLOCK_SKEW_MS, tableDigest, useNodes } from './nodes.ts';
import { streamLine } from './stream-lines.ts';

const [streamed, batched] = await useNodes(2, 'lww');
const RUNS = Number(process.env.PROPERTY_RUNS ?? 40);
const ROWS = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000c'];
const ORIGINS = ['origin-a', 'origin-b', 'origin-c'];
/** Stamps within a few ticks of each other, well inside the clock bound: ties are frequent. */
const BASE_HLC = (BigInt(Date.now()) - 3_600_000n) * 65536n;

type Draft = { row: number; origin: number; kind: 'insert' | 'update' | 'delete'; tick: number; value: number };
const draftArb: fc.Arbitrary<Draft> = fc.record({
  row: fc.integer({ min: 0, max: ROWS.length - 1 }),
  origin: fc.integer({ min: 0, max: ORIGINS.length - 1 }),
  kind: fc.constantFrom('insert', 'update', 'delete'),
  tick: fc.integer({ min: 0, max: 6 }),
  value: fc.integer({ min: 0, max: 99 }),
});

/** Each origin's next sequence, over all runs: every draft becomes a change of its own identity. */
const nextSequence = new Map<string, number>();
function changeOf(d: Draft, run: number): Change {
  const origin = ORIGINS[d.origin]!;
  const sequence = (nextSequence.get(origin) ?? 0) + 1;
  nextSequence.set(origin, sequence);
  const id = ROWS[d.row]!;
  return {
    table_name: 'teams',
    record_id: id,
    operation: d.kind,
    change_data:
      d.kind === 'delete'
        ? null
        : { id, team_number: d.value, name: `v${d.value}`, scouting_team_number: 1, is_active: true, updated_at: '2026-11-30T09:00:00.000Z' },
    old_data: null,
    timestamp: '2026-11-30T09:00:00.000Z',
    origin_node_id: origin,
    origin_sequence: String(sequence),
    hlc: String(BASE_HLC + BigInt(run * 4 + d.tick) * 65536n + BigInt(d.value % 2)),
  };
}

const applyBatched = (changes: Change[]): Promise<ApplyResult> =>
  applyIncoming(batched!.pool, checkChanges(changes), { nodeId: batched!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS });

async function applyStreamed(changes: Change[], chunkRows: number): Promise<ApplyResult> {
  const { deletes: _deletes, ...result } = await applyLogStream(streamed!.pool, Readable.from([changes.map(streamLine).join('')]), {
    nodeId: streamed!.nodeId,
    maxClockSkewMs: MAX_CLOCK_SKEW_MS,
    chunkRows,
    applyChanges: (chunk) => applyIncoming(streamed!.pool, chunk, { nodeId: streamed!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS }),
  });
  return result;
}

describe('a log stream applied in bulk', () => {
  it('reaches the same rows, log and counts as the applier, whatever either node held before', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(draftArb, { maxLength: 6 }),
        fc.array(draftArb, { minLength: 1, maxLength: 10 }),
        fc.nat({ max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        async (heldDrafts, incomingDrafts, repeats, chunkRows) => {
          run++;
          // Both nodes take the same history through the applier.
          const held = heldDrafts.map((d) => changeOf(d, run));
          if (held.length) {
            expect(await applyBatched(held)).toEqual(
              await applyIncoming(streamed!.pool, checkChanges(held), { nodeId: streamed!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS }),
            );
          }
          // New changes, and some of the history's again (duplicates: the applier's to skip).
          const incoming = [...incomingDrafts.map((d) => changeOf(d, run)), ...held.slice(0, repeats)];
          const viaStream = await applyStreamed(incoming, chunkRows);
          const viaBatch = await applyBatched(incoming);
          expect(await tableDigest(streamed!.pool)).toEqual(await tableDigest(batched!.pool));
          expect(await logIdentities(streamed!.pool)).toEqual(await logIdentities(batched!.pool));
          // In several chunks, a row's older change may win in its chunk before a newer one wins in a later one.
          if (chunkRows >= incoming.length) expect(viaStream).toEqual(viaBatch);
          else {
            expect(viaStream.received).toBe(viaBatch.received);
            expect(viaStream.skipped_duplicate).toBe(viaBatch.skipped_duplicate);
            expect(viaStream.applied + viaStream.skipped_stale).toBe(viaBatch.applied + viaBatch.skipped_stale);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
