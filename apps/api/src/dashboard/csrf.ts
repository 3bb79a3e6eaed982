// The dashboard's state-changing form posts (scan buttons) ride on HTTP basic auth, which a browser sends
// on any request to the node, a cross-site form post included. So each post must come from the
// dashboard's own origin (Origin / Sec-Fetch-Site / Referer) and carry a token only a page of the
// dashboard holds: an HMAC of its issue time keyed by the admin credentials, so every API process of a
// node issues and accepts the same tokens without shared state, and a changed password voids them.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** Tokens are issued per hour (the live updates then keep one token) and accepted for 12 hours. */
const ISSUE_STEP_MS = 3_600_000;
export const TOKEN_LIFETIME_MS = 12 * ISSUE_STEP_MS;

const keyOf = (admin: { user: string; password: string }) =>
  createHash('sha256').update(`catch-up sync dashboard csrf\0${admin.user}\0${admin.password}`).digest();

const mac = (key: Buffer, issued: number) => createHmac('sha256', key).update(String(issued)).digest('base64url');

export function issueCsrfToken(admin: { user: string; password: string }, now = Date.now()): string {
  const issued = Math.floor(now / ISSUE_STEP_MS) * ISSUE_STEP_MS;
  return `${issued}.${mac(keyOf(admin), issued)}`;
}

/** Whether `token` was issued with these credentials less than TOKEN_LIFETIME_MS ago (constant-time compare). */
export function verifyCsrfToken(admin: { user: string; password: string }, token: unknown, now = Date.now()): boolean {
  if (typeof token !== 'string') return false;
  const match = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const issued = Number(match[1]);
  if (issued > now || now - issued > TOKEN_LIFETIME_MS) return false;
  const expected = Buffer.from(mac(keyOf(admin), issued));
  const presented = Buffer.from(match[2]!);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * Why a post is not from the dashboard's own origin, or null when nothing says it is foreign: a
 * Sec-Fetch-Site other than same-origin (or none: typed by the user), an Origin other than this
 * node's, or, without Origin, a Referer from elsewhere. A client sending none of them (curl) still
 * needs the token.
 */
export function foreignOrigin(request: FastifyRequest): string | null {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `a ${site} request`;
  const own = `${request.protocol}://${request.host}`;
  const origin = request.headers.origin;
  if (origin !== undefined) return origin === own ? null : `origin ${origin}`;
  const referer = request.headers.referer;
  if (referer !== undefined) {
    let from: string;
    try {
      from = new URL(referer).origin;
    } catch {
      return 'a malformed Referer';
    }
    return from === own ? null : `referer origin ${from}`;
  }
  return null;
}
