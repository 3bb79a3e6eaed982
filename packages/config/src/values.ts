// Parsing of typed configuration values, shared by environment variables and sync_config rows.
import { z } from 'zod';

export type ValueType = 'boolean' | 'integer' | 'string' | 'json';

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function parseBoolean(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

export function parseInteger(raw: string): number | undefined {
  const v = raw.trim();
  if (!/^-?\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Converts a stored string to the declared type, or undefined when it is not of that type. */
export function parseTyped(raw: string, type: ValueType): unknown {
  switch (type) {
    case 'boolean':
      return parseBoolean(raw);
    case 'integer':
      return parseInteger(raw);
    case 'string':
      return raw;
    case 'json':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return undefined;
      }
  }
}

export function serializeTyped(value: unknown, type: ValueType): string {
  return type === 'json' ? JSON.stringify(value) : String(value);
}

export const integerIn = (min: number, max: number) => z.number().int().min(min).max(max);

/** Human text for what a schema accepts, for error messages. */
export function describeExpected(type: ValueType, schema: z.ZodType): string {
  if (schema instanceof z.ZodNumber) {
    const { minValue, maxValue } = schema;
    if (minValue !== null && maxValue !== null) return `an integer from ${minValue} to ${maxValue}`;
    if (minValue !== null) return `an integer of at least ${minValue}`;
    return 'an integer';
  }
  if (type === 'boolean') return 'a boolean (true/false)';
  if (schema.description) return schema.description;
  return type === 'json' ? 'a JSON value' : 'a string';
}
