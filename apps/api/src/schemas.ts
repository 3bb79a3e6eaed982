// Shapes shared by several routes (response serialization and OpenAPI come from these).
import { z } from 'zod';
export { bigintString } from '@catchup/changelog';

export const isoDate = z.string().describe('ISO 8601 timestamp');
export const nullableIso = isoDate.nullable();
export const toIso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

const errorBody = z.object({ statusCode: z.number(), error: z.string(), message: z.string() });
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  404: errorBody,
  413: errorBody,
};

/** Largest PostgreSQL int: row ids (serial columns) never exceed it, and the database refuses a larger one. */
const PG_INT_MAX = 2_147_483_647;
/** A row id as a JSON number. */
export const rowId = z.number().int().positive().max(PG_INT_MAX);
/** A row id in a query string or path. */
export const rowIdText = z.coerce.number().int().positive().max(PG_INT_MAX);
export const idParams = z.object({ id: rowIdText });
