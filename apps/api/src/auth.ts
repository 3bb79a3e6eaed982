// Authentication of every credential the API takes (the node's API key, peers' credentials, Bull Board's
// password, the metrics token): the answer never says why a credential was refused, the request that
// passes carries who made it (request.actor, what the audit trail records; request.peer for a peer), and
// failed attempts are limited per address.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { peerActor, type PeerIdentity } from '@catchup/engine';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who makes the request, as the audit trail names it; set by the hook that accepted its credential ('' before). */
    actor: string;
    /** The peer whose own credential the request presented; undefined for the node's API key (an operator). */
    peer: { serverId: number; name: string; credentialId: number; label: string } | undefined;
  }
}

/** The actor of a request that presented the node's API key (the operator's credential, and the CLI's). */
export const API_KEY_ACTOR = 'node api key';

/** The key of X-API-Key, or else of Authorization: Bearer. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  return bearerToken(request);
}

/** The token of Authorization: Bearer. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

export interface FailedAuthLimit {
  /** Answers 429 with Retry-After when the request's address has used up its failed attempts; true when it did. */
  refuseIfBlocked(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** Counts a failed attempt of the request's address. */
  countFailure(request: FastifyRequest): Promise<void>;
}

/**
 * Sets up request.actor and the failed-authentication limit (@fastify/rate-limit, counting per address
 * only the attempts that presented a wrong credential: a peer with a valid key is never counted, however
 * many requests it makes). An address with `limit` failures in the window is refused with 429 before any
 * credential it presents is checked, so that a guesser learns nothing more until the window ends.
 */
export async function registerAuthentication(
  app: FastifyInstance,
  limits: { authFailureLimit: number; authFailureWindowSeconds: number },
): Promise<FailedAuthLimit> {
  app.decorateRequest('actor', '');
  app.decorateRequest('peer', undefined);
  await app.register(rateLimit, { global: false });
  const failures = app.createRateLimit({ max: limits.authFailureLimit, timeWindow: limits.authFailureWindowSeconds * 1000 });
  return {
    async refuseIfBlocked(request, reply) {
      const standing = await failures(request, { increment: false });
      if (standing.isAllowed || standing.remaining > 0) return false;
      await reply
        .code(429)
        .header('retry-after', String(standing.ttlInSeconds))
        .send({
          statusCode: 429,
          error: 'Too Many Requests',
          message: `Too many failed authentications from this address; retry in ${standing.ttlInSeconds} s`,
        });
      return true;
    },
    async countFailure(request) {
      await failures(request);
    },
  };
}

export interface CredentialRule {
  /** The credential the request presents, if any. */
  presented: (request: FastifyRequest) => string | undefined;
  /** Accepts or refuses it (in constant time). */
  check: (credential: string) => boolean;
  /** The actor of a request it accepts. */
  actor: string;
  /** Answers a request without an accepted credential (401). */
  refuse: (reply: FastifyReply) => FastifyReply;
}

/**
 * An onRequest hook enforcing a credential. Only a wrong credential counts as a failed attempt: a request
 * presenting none (a browser before its login prompt, a scraper not yet configured) guesses nothing.
 */
export function authenticate(limit: FailedAuthLimit, rule: CredentialRule) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (await limit.refuseIfBlocked(request, reply)) return reply;
    const credential = rule.presented(request);
    if (credential !== undefined && rule.check(credential)) {
      request.actor = rule.actor;
      return;
    }
    if (credential !== undefined) await limit.countFailure(request);
    return rule.refuse(reply);
  };
}

const refuseKey = (reply: FastifyReply) => reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid API key' });

/** The hook of a route taking the node's API key only: X-API-Key or Authorization: Bearer. */
export function requireApiKey(check: (key: string) => boolean, limit: FailedAuthLimit) {
  return authenticate(limit, { presented: presentedKey, check, actor: API_KEY_ACTOR, refuse: refuseKey });
}

/** The message of a peer credential presented to an admin route (403). */
export const PEER_CREDENTIAL_REFUSED = "A peer credential opens only the peer API (ping, changes, digest, files); this route takes the node's API key";

export interface SyncCredentials {
  /** Accepts or refuses the node's API key (constant time). */
  checkApiKey: (key: string) => boolean;
  /** The peer a token belongs to while it is valid (looked up on every request: a revocation holds at once). */
  verifyPeerToken: (token: string) => Promise<PeerIdentity | null>;
}

/**
 * The hook of the sync API (X-API-Key or Authorization: Bearer). The node's API key opens every route.
 * A peer's own credential opens the peer API only (`peerApi`: ping, changes, files) and sets request.peer;
 * on any other route it is answered 403, which is not a failed attempt (the credential is valid). A
 * credential that is neither counts toward the failed-authentication limit.
 */
export function requireSyncCredential(credentials: SyncCredentials, limit: FailedAuthLimit, scope: { peerApi: boolean }) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (await limit.refuseIfBlocked(request, reply)) return reply;
    const presented = presentedKey(request);
    if (presented === undefined) return refuseKey(reply);
    if (credentials.checkApiKey(presented)) {
      request.actor = API_KEY_ACTOR;
      return;
    }
    const peer = await credentials.verifyPeerToken(presented);
    if (!peer) {
      await limit.countFailure(request);
      return refuseKey(reply);
    }
    if (!scope.peerApi) return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: PEER_CREDENTIAL_REFUSED });
    request.peer = peer;
    request.actor = peerActor(peer);
    return;
  };
}
