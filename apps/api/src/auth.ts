// Peers and operators authenticate with X-API-Key or Authorization: Bearer. The answer never says why.
import type { FastifyReply, FastifyRequest } from 'fastify';

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

export function requireApiKey(check: (key: string) => boolean) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(request);
    if (!key || !check(key)) {
      return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid API key' });
    }
  };
}
