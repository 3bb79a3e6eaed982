// The wire shapes of held checks (issue #19 item 6): before sending changes, a node asks the peer which of
// them it lacks (POST /changes/held); pulling, it reads a page's identities first (GET /changes/identities)
// and then only the changes it lacks (POST /changes/select). Identities travel grouped by origin, so a
// page of one origin's changes names the origin once.
import { z } from 'zod';
import { bigintString, type ChangeIdentity, type StampedIdentity } from '@catchup/changelog';
import { changesPagePositionSchema } from './types.ts';

/** The most identities one ask or select names: a page's worth (MAX_BATCH_SIZE in @catchup/config). */
export const MAX_IDENTITIES = 10_000;

const nodeId = z.string().min(1).max(100);

/** One origin's changes by sequence. */
export const identityGroupSchema = z.object({ node_id: nodeId, sequences: z.array(bigintString).min(1) });

/** One origin's changes by sequence, each with its hybrid-logical-clock stamp (same order). */
export const stampedGroupSchema = identityGroupSchema.extend({ hlcs: z.array(bigintString) }).superRefine((group, ctx) => {
  if (group.hlcs.length !== group.sequences.length) ctx.addIssue({ code: 'custom', path: ['hlcs'], message: 'one stamp per sequence' });
});

/** At most MAX_IDENTITIES sequences over all groups. */
const bounded =
  <T extends { sequences: string[] }>(field: string) =>
  (groups: T[], ctx: z.RefinementCtx) => {
    const total = groups.reduce((n, g) => n + g.sequences.length, 0);
    if (total > MAX_IDENTITIES) ctx.addIssue({ code: 'custom', path: [field], message: `at most ${MAX_IDENTITIES} identities, got ${total}` });
  };

export const heldRequestSchema = z
  .object({
    from: nodeId.describe("the asker's node id: lacked changes are leased to it"),
    origins: z.array(stampedGroupSchema).max(MAX_IDENTITIES),
  })
  .superRefine((body, ctx) => bounded('origins')(body.origins, ctx));
export type HeldRequest = z.infer<typeof heldRequestSchema>;

export const heldResponseSchema = z.object({
  lacked: z.array(identityGroupSchema).describe('lacked here and leased to the asker: send them now'),
  pending: z.array(identityGroupSchema).describe('lacked here, on their way from another peer: ask again later'),
  held: z.number().int().nonnegative().describe('how many of the asked changes this node holds'),
});
export type HeldResponse = z.infer<typeof heldResponseSchema>;

export const identitiesPageResponseSchema = changesPagePositionSchema.extend({
  origins: z.array(stampedGroupSchema),
  count: z.number().int().nonnegative(),
});
export type IdentitiesPageResponse = z.infer<typeof identitiesPageResponseSchema>;

export const selectRequestSchema = z
  .object({
    after: bigintString,
    up_to: bigintString,
    origins: z.array(identityGroupSchema).max(MAX_IDENTITIES),
  })
  .superRefine((body, ctx) => bounded('origins')(body.origins, ctx));
export type SelectRequest = z.infer<typeof selectRequestSchema>;

/** Identities grouped by origin, in the order they come (a page's order within each origin). */
export function groupIdentities(identities: readonly ChangeIdentity[]): z.infer<typeof identityGroupSchema>[] {
  const groups = new Map<string, string[]>();
  for (const i of identities) {
    const sequences = groups.get(i.origin) ?? [];
    if (!sequences.length) groups.set(i.origin, sequences);
    sequences.push(i.sequence);
  }
  return [...groups].map(([node_id, sequences]) => ({ node_id, sequences }));
}

export function groupStamped(identities: readonly StampedIdentity[]): z.infer<typeof stampedGroupSchema>[] {
  const groups = new Map<string, { sequences: string[]; hlcs: string[] }>();
  for (const i of identities) {
    const group = groups.get(i.origin) ?? { sequences: [], hlcs: [] };
    if (!group.sequences.length) groups.set(i.origin, group);
    group.sequences.push(i.sequence);
    group.hlcs.push(i.hlc);
  }
  return [...groups].map(([node_id, g]) => ({ node_id, ...g }));
}

export const ungroupIdentities = (groups: readonly { node_id: string; sequences: string[] }[]): ChangeIdentity[] =>
  groups.flatMap((g) => g.sequences.map((sequence) => ({ origin: g.node_id, sequence })));

export const ungroupStamped = (groups: readonly { node_id: string; sequences: string[]; hlcs: string[] }[]): StampedIdentity[] =>
  groups.flatMap((g) => g.sequences.map((sequence, i) => ({ origin: g.node_id, sequence, hlc: g.hlcs[i]! })));
