// A peer's team scope as the log is read and written for it (see @catchup/changelog's scope.ts).
import { describeSyncedTables, filterColumns, teamNumbersSchema, type TeamScope } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { EngineContext } from './context.ts';

/** The peer's scope, or undefined when it may see every team (team_scope null). */
export async function teamScopeOf(ctx: EngineContext, server: Pick<SyncServer, 'teamScope'>): Promise<TeamScope | undefined> {
  if (server.teamScope === null) return undefined;
  const teams = teamNumbersSchema.parse(server.teamScope);
  const { team_filter_columns: rule } = await ctx.settings();
  return { teams, columns: filterColumns(rule, await describeSyncedTables(ctx.pool)) };
}

/** The scope of the peer with this row id; undefined when it has none. A peer removed meanwhile is an error, not every team. */
export async function teamScopeOfServer(ctx: EngineContext, serverId: number): Promise<TeamScope | undefined> {
  const server = await ctx.db.syncServer.findUnique({ where: { id: serverId }, select: { teamScope: true } });
  if (!server) throw new Error(`sync server ${serverId} no longer exists`);
  return teamScopeOf(ctx, server);
}
