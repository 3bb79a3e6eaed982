import type { QueryResultRow } from 'pg';

/** Anything that runs a query: a pool, or a client inside a transaction. */
export interface Sql {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

const statementNames = new Map<string, string>();

/**
 * A named prepared statement for a query run once per batch: each connection plans it once instead of
 * on every call (the bulk statements are costly to plan). Same text, same name.
 */
export function prepared(text: string): { name: string; text: string } {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `catchup_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text };
}
