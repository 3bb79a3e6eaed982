// Synced tables at run time: list them, put a table under sync (with its existing rows), take one out.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { reportTables, TABLE_NAME, TableBusyError, TableNotFoundError, type TableReport } from '@catchup/changelog';
import { addSyncedTable, removeSyncedTable } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

const tableName = z.string().regex(TABLE_NAME, 'a plain lower-case table name (letters, digits and underscores, at most 63)');

const tableSchema = z.object({
  name: z.string(),
  standing: z
    .enum(['synced', 'baseline in progress', 'trigger disabled', 'not synced', 'table missing'])
    .describe(
      'synced: writes are captured; baseline in progress: writes are captured and the rows the table held before are still being logged (baseline_rows_logged so far); trigger disabled: the capture trigger is switched off, writes are not captured; not synced; table missing: the log names a table that no longer exists',
    ),
  rows: z.number().nullable().describe('rows in the table; estimated when rows_estimated'),
  rows_estimated: z.boolean().describe("true for large tables: rows is the planner's estimate"),
  log_entries: z.number().describe("this table's entries in the change log"),
  baseline_rows_logged: z.number().nullable().describe('while the baseline is in progress, the existing rows it logged so far; otherwise null'),
  problem: z.string().nullable().describe('why the table cannot be put under sync as it is, and the SQL that fixes it'),
});

const addedSchema = z.object({
  name: z.string(),
  added: z.boolean().describe('false when the table was synced already (nothing changed)'),
  baseline_rows: z.number().describe("existing rows logged as this node's inserts when the table was put under sync"),
});

function present(t: TableReport): z.infer<typeof tableSchema> {
  return {
    name: t.name,
    standing: t.standing,
    rows: t.rows,
    rows_estimated: t.rowsEstimated,
    log_entries: t.logEntries,
    baseline_rows_logged: t.baselineRowsLogged,
    problem: t.problem,
  };
}

/** The table errors that are not the request's shape: 404 unknown, 409 busy (TableNotSyncableError is a 400 everywhere). */
function asHttpError(err: unknown): unknown {
  if (err instanceof TableNotFoundError) return new HttpError(404, err.message);
  if (err instanceof TableBusyError) return new HttpError(409, err.message);
  return err;
}

export const tableRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['tables'];
    app.get(
      '/tables',
      {
        schema: {
          tags,
          summary: 'Application tables: which are synced, their rows and log entries',
          response: { 200: z.object({ tables: z.array(tableSchema) }), 401: errorResponses[401] },
        },
      },
      async () => ({ tables: (await reportTables(ctx.pool)).map(present) }),
    );

    app.post(
      '/tables',
      {
        schema: {
          tags,
          summary: "Put a table under sync: its existing rows are logged as this node's inserts, then every write is captured",
          description: 'The table must be a public table whose primary key is one uuid column named id; otherwise 400 says what is missing and how to fix it.',
          body: z.object({ name: tableName }).strict(),
          response: { 200: addedSchema, 201: addedSchema, 409: errorResponses[400], ...errorResponses },
        },
      },
      async (request, reply) => {
        try {
          const outcome = await addSyncedTable(ctx.engine, request.body.name, request.actor);
          return reply.code(outcome.added ? 201 : 200).send({ name: outcome.table, added: outcome.added, baseline_rows: outcome.baselineRows });
        } catch (err) {
          throw asHttpError(err);
        }
      },
    );

    app.delete(
      '/tables/:name',
      {
        schema: {
          tags,
          summary: 'Take a table out of sync: writes are no longer captured; its log history stays',
          params: z.object({ name: tableName }),
          response: { 204: z.null(), ...errorResponses },
        },
      },
      async (request, reply) => {
        try {
          await removeSyncedTable(ctx.engine, request.params.name, request.actor);
        } catch (err) {
          throw asHttpError(err);
        }
        return reply.code(204).send(null);
      },
    );
  };
