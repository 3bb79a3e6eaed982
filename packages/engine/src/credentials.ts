// Per-peer credentials (issue #18): the tokens peers present to this node's peer API, each peer its own,
// each revocable alone. This module is the only writer of peer_credentials. A token is shown once, when
// issued; only its sha256 is stored. A presented token is looked up by that hash on every request (no
// cache), so a revocation or an expiry holds at once in every API process of the node.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EngineContext } from './context.ts';

/** A token: this prefix (so that a leaked one is recognisable), then 32 random bytes in base64url. */
export const TOKEN_PREFIX = 'cus_';
const TOKEN_PATTERN = /^cus_[A-Za-z0-9_-]{43}$/;

/** How often a credential's last_used_at is written at most: a busy peer does not write once per request. */
const LAST_USED_RESOLUTION_SECONDS = 60;

/** The sha256 (lower-case hex) of a token: what peer_credentials stores and looks tokens up by. */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Where a credential stands: active (no expiry), expiring (valid until expires_at: a rotation's overlap),
 * expired, revoked.
 */
export const CREDENTIAL_STATES = ['active', 'expiring', 'expired', 'revoked'] as const;

/** A credential as the API and the CLI show it: never the token, nor its hash. */
export const credentialSchema = z.object({
  id: z.number(),
  server_id: z.number(),
  label: z.string(),
  state: z.enum(CREDENTIAL_STATES),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});
export type Credential = z.infer<typeof credentialSchema>;

/** A credential just issued, with its token: the only time the token is ever shown. */
export const issuedCredentialSchema = credentialSchema.extend({
  token: z.string().describe('the token the peer presents (X-API-Key or Authorization: Bearer); shown only now'),
});
export type IssuedCredential = z.infer<typeof issuedCredentialSchema>;

/** Who a request presenting a valid peer token is. */
export interface PeerIdentity {
  serverId: number;
  /** The peer's name (sync_servers.name). */
  name: string;
  credentialId: number;
  label: string;
}

interface CredentialRow {
  id: number;
  serverId: number;
  label: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/**
 * The database's clock: expiries are set and checked by it (not by a process's clock, nor by the node's
 * shifted hybrid-clock wall time), so every API process of the node agrees on when one passes.
 */
async function databaseNow(ctx: Pick<EngineContext, 'pool'>): Promise<Date> {
  const { rows } = await ctx.pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}

function present(row: CredentialRow, now: Date): Credential {
  const state = row.revokedAt ? 'revoked' : !row.expiresAt ? 'active' : row.expiresAt > now ? 'expiring' : 'expired';
  return {
    id: row.id,
    server_id: row.serverId,
    label: row.label,
    state,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
  };
}

const credentialFields = { id: true, serverId: true, label: true, createdAt: true, expiresAt: true, revokedAt: true, lastUsedAt: true } as const;

export interface IssueOptions {
  /**
   * Rotation: the peer's other live credentials expire this many seconds from now (0: at once), so that
   * the old token keeps working while the peer is given the new one. One already expiring sooner keeps
   * its expiry. Absent: the others are left as they are.
   */
  expireOthersInSeconds?: number;
}

export interface Issued {
  credential: IssuedCredential;
  /** The peer's other credentials given an expiry by this issue (a rotation), as they stand now. */
  expiring: Credential[];
}

/** Issues a new credential for a peer; null when the peer does not exist. */
export async function issueCredential(ctx: Pick<EngineContext, 'db' | 'pool'>, serverId: number, options: IssueOptions = {}): Promise<Issued | null> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const now = await databaseNow(ctx);
  const expireAt = options.expireOthersInSeconds === undefined ? null : new Date(now.getTime() + options.expireOthersInSeconds * 1000);
  const issue = ctx.db.$transaction(async (tx) => {
    const server = await tx.syncServer.findUnique({ where: { id: serverId }, select: { id: true } });
    if (!server) return null;
    const created = await tx.peerCredential.create({ data: { serverId, label: '', secretHash: tokenHash(token) }, select: { id: true } });
    const row = await tx.peerCredential.update({ where: { id: created.id }, data: { label: `cred-${created.id}` }, select: credentialFields });
    let expiring: CredentialRow[] = [];
    if (expireAt) {
      const others = {
        serverId,
        id: { not: row.id },
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: expireAt } }],
      };
      const ids = (await tx.peerCredential.findMany({ where: others, select: { id: true } })).map((c) => c.id);
      await tx.peerCredential.updateMany({ where: { id: { in: ids } }, data: { expiresAt: expireAt } });
      expiring = await tx.peerCredential.findMany({ where: { id: { in: ids } }, select: credentialFields, orderBy: { id: 'asc' } });
    }
    return { credential: { ...present(row, now), token }, expiring: expiring.map((c) => present(c, now)) };
  });
  // A peer removed between the look-up and the insert fails the foreign key: it does not exist either.
  return issue.catch((err: unknown) => {
    if ((err as { code?: string }).code === 'P2003') return null;
    throw err;
  });
}

/** A peer's credentials, oldest first (revoked and expired ones too); null when the peer does not exist. */
export async function listCredentials(ctx: Pick<EngineContext, 'db' | 'pool'>, serverId: number): Promise<Credential[] | null> {
  const server = await ctx.db.syncServer.findUnique({ where: { id: serverId }, select: { credentials: { select: credentialFields, orderBy: { id: 'asc' } } } });
  if (!server) return null;
  const now = await databaseNow(ctx);
  return server.credentials.map((c) => present(c, now));
}

export interface Revoked {
  credential: Credential;
  /** False when it was revoked already (nothing changed). */
  changed: boolean;
}

/** Revokes one of a peer's credentials (effective at the peer's next request); null when the peer has no such credential. */
export async function revokeCredential(ctx: Pick<EngineContext, 'db' | 'pool'>, serverId: number, credentialId: number): Promise<Revoked | null> {
  const updated = await ctx.db.peerCredential.updateMany({ where: { id: credentialId, serverId, revokedAt: null }, data: { revokedAt: new Date() } });
  const row = await ctx.db.peerCredential.findFirst({ where: { id: credentialId, serverId }, select: credentialFields });
  if (!row) return null;
  return { credential: present(row, await databaseNow(ctx)), changed: updated.count > 0 };
}

/**
 * The peer a presented token belongs to, when the token is valid: issued by this node, not revoked, not
 * expired (against the database's clock, the same for every process). Whether the peer is active is not
 * asked: is_active pauses this node's catch-ups with it, while refusing its calls is what revocation is
 * for. One statement, by the hash's unique index, which also notes the use (at most once a minute).
 */
export async function verifyPeerToken(ctx: Pick<EngineContext, 'pool'>, token: string): Promise<PeerIdentity | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const { rows } = await ctx.pool.query<{ id: number; label: string; server_id: number; name: string }>(
    `WITH found AS (
       SELECT c.id, c.label, c.server_id, s.name, c.last_used_at
         FROM peer_credentials c JOIN sync_servers s ON s.id = c.server_id
        WHERE c.secret_hash = $1 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())
     ), noted AS (
       UPDATE peer_credentials SET last_used_at = now()
        WHERE id IN (SELECT id FROM found WHERE last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
     )
     SELECT id, label, server_id, name FROM found`,
    [tokenHash(token), LAST_USED_RESOLUTION_SECONDS],
  );
  const row = rows[0];
  return row ? { serverId: row.server_id, name: row.name, credentialId: row.id, label: row.label } : null;
}
