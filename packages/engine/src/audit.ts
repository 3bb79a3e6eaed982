// The audit trail: each admin action is one sync_logs row naming who did it (the credential the auth
// layer recognised) and what it changed, field by field. Secrets never reach a row: a secret field
// shows only whether it was set or changed.
import { z } from 'zod';
import type { EngineContext } from './context.ts';
import { DELIVERY_OPERATION_NAMES } from './deliveries.ts';

/**
 * The sync_logs operations of admin actions, one scheme: "<what> <past participle>". Listed by
 * GET /api/sync/logs?kind=audit.
 */
export const ADMIN_OPERATIONS = {
  peerAdded: 'peer added',
  peerChanged: 'peer changed',
  peerRemoved: 'peer removed',
  credentialIssued: 'credential issued',
  credentialRotated: 'credential rotated',
  credentialRevoked: 'credential revoked',
  settingsChanged: 'settings changed',
  tableAdded: 'table added',
  tableRemoved: 'table removed',
  scanRequested: 'scan requested',
  queueChanged: 'queue changed',
  prune: 'prune',
  conflictResolved: 'conflict resolved',
  verifyRepair: 'verify repair',
} as const;

export type AdminOperation = (typeof ADMIN_OPERATIONS)[keyof typeof ADMIN_OPERATIONS];
export const ADMIN_OPERATION_NAMES: readonly AdminOperation[] = Object.values(ADMIN_OPERATIONS);

/** Kinds of sync_logs rows a listing can ask for, each a set of operations. */
export const LOG_KINDS = { audit: ADMIN_OPERATION_NAMES, delivery: DELIVERY_OPERATION_NAMES } as const;
export type LogKind = keyof typeof LOG_KINDS;

/** Who acts when no request does: the scheduled jobs, and the node finishing work it was given before a restart. */
export const SCHEDULER_ACTOR = 'scheduler';
export const NODE_ACTOR = 'node';

const fieldChangeSchema = z.object({ before: z.unknown(), after: z.unknown() });
/** The audit part of a sync_logs row's result: who, and the fields changed (absent when nothing was edited, e.g. a scan). */
export const auditResultSchema = z.object({
  actor: z.string(),
  changes: z.record(z.string(), fieldChangeSchema).optional(),
});
export type AuditResult = z.infer<typeof auditResultSchema>;
export type FieldChanges = NonNullable<AuditResult['changes']>;

/** Field names whose values are secrets (api_key, admin_password, metrics_token, client_secret…). */
const SECRET_FIELD = /(^|_)(key|password|token|secret)s?$/i;
export const isSecretField = (field: string): boolean => SECRET_FIELD.test(field);

const isSet = (v: unknown) => v !== null && v !== undefined;

/**
 * The fields whose value differs between `before` and `after` (null for a thing created or removed),
 * each with both values; a secret shows '(set)' or null before, and '(set)', '(changed)' or null after.
 */
export function fieldChanges(before: Record<string, unknown> | null, after: Record<string, unknown> | null): FieldChanges {
  const changes: FieldChanges = {};
  for (const field of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    const was = before?.[field] ?? null;
    const now = after?.[field] ?? null;
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    changes[field] = isSecretField(field)
      ? { before: isSet(was) ? '(set)' : null, after: !isSet(now) ? null : isSet(was) ? '(changed)' : '(set)' }
      : { before: was, after: now };
  }
  return changes;
}

export interface AdminAction {
  operation: AdminOperation;
  /** The credential that did it, as the auth layer names it (e.g. 'node api key', 'bull board'). */
  actor: string;
  /** The one-line summary an operator reads. */
  details: string;
  changes?: FieldChanges;
  /** The peer acted on, while it exists (a removed peer is named in details). */
  serverId?: number | null;
  startedAt?: Date;
  /** Further facts stored beside actor and changes in the row's result (job ids, a prune's report); never secrets. */
  facts?: Record<string, unknown>;
}

/** Writes one admin action to sync_logs. */
export async function recordAdminAction(ctx: Pick<EngineContext, 'db'>, action: AdminAction): Promise<void> {
  const result: Record<string, unknown> = { ...action.facts, actor: action.actor, ...(action.changes ? { changes: action.changes } : {}) };
  await ctx.db.syncLog.create({
    data: {
      serverId: action.serverId ?? null,
      operation: action.operation,
      status: 'completed',
      startedAt: action.startedAt ?? new Date(),
      completedAt: new Date(),
      details: action.details,
      result: result as object,
    },
  });
}

/** The actor of a sync_logs row's result, when it records one. */
export function actorOf(result: unknown): string | null {
  const parsed = auditResultSchema.safeParse(result);
  return parsed.success ? parsed.data.actor : null;
}
