import type { QueryResultRow } from 'pg';

/** Anything that runs a query: a pool, or a client inside a transaction. */
export interface Sql {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
