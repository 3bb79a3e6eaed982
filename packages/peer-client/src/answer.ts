// What a peer answered, checked before anything uses it: a redirect is refused (the key is never sent
// on to where it points), a body that is not JSON or not of the route's shape is an invalid answer.
import type { z } from 'zod';
import { PeerError } from './errors.ts';

/** At most this many of a schema's complaints are named in an error. */
const NAMED_ISSUES = 6;

function describeIssues(error: z.ZodError): string {
  const named = error.issues.slice(0, NAMED_ISSUES).map((issue) => `${issue.path.join('.') || 'the body'}: ${issue.message}`);
  const more = error.issues.length - named.length;
  return more > 0 ? `${named.join('; ')} (and ${more} more)` : named.join('; ');
}

/** A peer's answer that is not of the route's shape: the peer may answer properly later (server_error). */
export function invalidAnswer(from: string, error: z.ZodError): PeerError {
  return new PeerError('server_error', `${from} answered an invalid response: ${describeIssues(error)}`);
}

/** Throws when the answer is a redirect: it is refused, never followed (it would carry the key). */
export function refuseRedirect(response: { statusCode: number; headers: Record<string, string | string[] | undefined> }, from: string): void {
  const status = response.statusCode;
  if (status < 300 || status > 399) return;
  const location = response.headers.location;
  const to = location === undefined ? 'nowhere' : String(location);
  throw new PeerError('rejected', `${from} answered a redirect (${status} to ${to}); redirects are not followed`, status);
}

/** The body parsed as JSON and checked against the route's schema. */
export function parseAnswer<T>(schema: z.ZodType<T>, body: string, from: string): T {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new PeerError('server_error', `${from} answered an invalid response: not JSON`);
  }
  const checked = schema.safeParse(doc);
  if (!checked.success) throw invalidAnswer(from, checked.error);
  return checked.data;
}
