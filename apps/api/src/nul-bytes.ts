// No query or path parameter may hold a NUL byte: PostgreSQL text cannot store one (the query would fail
// with 500) and no file name contains one. Refused with 400 naming the field, before any route runs.
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

const holdsNul = (value: unknown): boolean => (typeof value === 'string' ? value.includes('\0') : Array.isArray(value) && value.some(holdsNul));

function fieldWithNul(part: unknown): string | undefined {
  if (!part || typeof part !== 'object') return undefined;
  return Object.entries(part).find(([key, value]) => key.includes('\0') || holdsNul(value))?.[0];
}

export async function refuseNulBytes(request: FastifyRequest): Promise<void> {
  for (const [where, part] of [
    ['querystring', request.query],
    ['params', request.params],
  ] as const) {
    const field = fieldWithNul(part);
    if (field !== undefined) throw new HttpError(400, `${where}.${field.replace(/\0/g, '\\0')}: a NUL byte is refused`);
  }
}
