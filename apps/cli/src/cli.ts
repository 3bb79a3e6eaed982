// `npm run catchup -- <command>`: a node's operator commands over its HTTP API.
import { parseArgs } from 'node:util';
import type { CatchupPreview, CatchupResult, VerifyReport } from '@catchup/engine';
import { formatTable } from './table.ts';

const USAGE = `usage: npm run catchup -- <command> [options]

commands:
  status                                   peers needing catch-up and recent runs
  scan [--server ID]                       detect and catch up now (waits; prints each result)
  plan --server ID                         what a catch-up of the peer would move now, and how long it should take
  verify --server ID [--repair]            compare this node's synced tables and folders with the peer's (by digests)
                                           and name the differing rows and files; exit 1 when not level. --repair
                                           logs this node's version of each differing row it holds the winner of,
                                           for the next scan to carry to the peer
  servers list                             registered peers
  servers add NAME HOST PORT [--key KEY] [--protocol http|https] [--tls-fingerprint FP] [--issue-credential]
                                           (a pinned fingerprint implies https; --issue-credential prints the
                                           token the peer presents to this node, once)
  servers key ID KEY                       set the key this node presents to the peer (the token it issued)
  servers pin ID FINGERPRINT|none          pin the peer's TLS certificate (its ping's tls_fingerprint), or unpin
  servers teams ID TEAMS|all               team isolation: the scouting team numbers (comma-separated) the peer may
                                           see and write, or all (its log is then resent from the start)
  servers compression ID LEVEL|default     the zstd level for the link to the peer (0: none, for a fast LAN), or
                                           the node's COMPRESSION_LEVEL
  servers remove ID
  servers credentials list ID              the peer's credentials (never their tokens)
  servers credentials issue ID [--expire-others SECONDS]
                                           a new credential for the peer (its token printed once); with
                                           --expire-others its other live credentials expire after SECONDS
  servers credentials revoke ID CREDENTIAL_ID
                                           refused from the peer's next request on
  logs [--limit N] [--kind audit|delivery] [--operation OP]
                                           recent sync log entries (--kind audit: the admin actions, with who did
                                           them; --kind delivery: batches and files peers sent, by credential)
  conflicts                                open conflicts: rows whose concurrent edit lost, files kept as copies
  conflicts resolve LOSER winner|loser     keep the winner, or write the losing change (origin/sequence) again
  conflicts file DIR COPY winner|copy      keep the winner (the copy goes) or the conflict copy (it replaces it)
  prune                                    drop log entries, file tombstones and sync logs older than max_catchup_days
  tables list                              application tables: synced or not, rows, log entries
  tables add NAME                          put a table under sync (its existing rows are logged)
  tables remove NAME                       take a table out of sync

options:
  --url URL   the node's API (default: CATCHUP_URL or http://127.0.0.1:$PORT, PORT default 5000)
  --api-key K this node's key (default: SYNC_API_KEY)`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
}

class CliError extends Error {}

const parseCliArgs = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'api-key': { type: 'string' },
      key: { type: 'string' },
      protocol: { type: 'string' },
      'tls-fingerprint': { type: 'string' },
      'issue-credential': { type: 'boolean' },
      'expire-others': { type: 'string' },
      server: { type: 'string' },
      limit: { type: 'string' },
      kind: { type: 'string' },
      operation: { type: 'string' },
      repair: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });

/** A catch-up plan as the CLI shows it: per direction its tables, per folder its files, then the estimate. */
function printPlan(io: CliIo, plan: CatchupPreview): void {
  io.out(`${plan.server_name} (server ${plan.server_id}): ${plan.reachable ? 'reachable' : `not reachable: ${plan.error}`}`);
  const tables = (label: string, side: { changes: number; tables: { table_name: string; changes: number }[] } | null, baseline: boolean | null) => {
    if (!side) return io.out(`${label}: unknown`);
    const per = side.tables.map((t) => `${t.table_name} ${t.changes}`).join(', ');
    io.out(`${label}: ${side.changes} change(s)${per ? ` (${per})` : ''}${baseline ? ', as a full baseline' : ''}`);
  };
  tables('send', plan.database.send, plan.full_baseline.send);
  tables('receive', plan.database.receive, plan.full_baseline.receive);
  if (plan.files?.length) {
    io.out(
      formatTable(
        ['folder', 'upload', 'download', 'delete there', 'delete here', 'conflicts'],
        plan.files.map((f) => [
          f.directory,
          `${f.upload.files} (${f.upload.bytes} B)`,
          `${f.download.files} (${f.download.bytes} B)`,
          f.delete_remote,
          f.delete_local,
          f.conflicts,
        ]),
      ),
    );
  }
  io.out(plan.estimated_seconds === null ? `estimate: none (${plan.estimate_basis})` : `estimate: ${plan.estimated_seconds} s (${plan.estimate_basis})`);
}

/** A verify report as the CLI shows it: level or not, then every differing table, row, folder and file. */
function printVerify(io: CliIo, report: VerifyReport): void {
  io.out(`${report.server_name} (server ${report.server_id}): ${report.level ? 'level' : 'NOT level'} (${report.seconds} s)`);
  for (const t of report.tables) {
    if (t.level) {
      io.out(`table ${t.table_name}: level (${t.rows_here} rows)`);
      continue;
    }
    if (t.synced !== 'both') {
      io.out(`table ${t.table_name}: synced only ${t.synced === 'here' ? 'here' : 'on the peer'}`);
      continue;
    }
    io.out(`table ${t.table_name}: ${t.differing_rows.length}${t.truncated ? '+' : ''} differing row(s) (${t.rows_here} here, ${t.rows_there} there)`);
    if (t.differing_rows.length) {
      io.out(
        formatTable(
          ['id', 'difference', 'repair', 'done'],
          t.differing_rows.map((r) => [r.id, r.kind.replace('_', ' '), r.action.replaceAll('_', ' '), r.repaired ? 'yes' : '']),
        ),
      );
    }
  }
  for (const f of report.folders) {
    io.out(`folder ${f.directory}: ${f.level ? `level (${f.files_here} files)` : `${f.differing_files.length}${f.truncated ? '+' : ''} differing file(s)`}`);
    for (const file of f.differing_files) io.out(`  ${file.path}: ${file.kind.replace('_', ' ')}`);
  }
  if (report.repair) {
    io.out(
      `repair: ${report.repair.relogged_rows} row(s) and ${report.repair.relogged_deletes} delete(s) re-logged as this node's changes, ${report.repair.left} left`,
    );
  }
  if (report.next_step) io.out(`next: ${report.next_step}`);
}

/** A peer's team scope as the CLI shows it. */
const teamsText = (scope: unknown) => (Array.isArray(scope) ? (scope.length ? `teams ${scope.join(', ')}` : 'no team') : 'all teams');

/** A credential just issued: its token, printed this once, and what to do with it. */
function printIssued(io: CliIo, peer: string, credential: Record<string, unknown>): void {
  io.out(`credential ${String(credential.label)} (id ${String(credential.id)}) issued for ${peer}; its token, shown only now:`);
  io.out(`  ${String(credential.token)}`);
  io.out("give it to that peer's operator: it is the key that node presents to this one (servers add ... --key, or servers key)");
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseCliArgs>;
  try {
    parsed = parseCliArgs(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const base = values.url ?? io.env.CATCHUP_URL ?? `http://127.0.0.1:${io.env.PORT ?? 5000}`;
  const apiKey = values['api-key'] ?? io.env.SYNC_API_KEY;
  const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: init.method ?? 'GET',
        headers: { ...(apiKey ? { 'x-api-key': apiKey } : {}), ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      });
    } catch (err) {
      throw new CliError(`cannot reach ${base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok && res.status !== 202) throw new CliError(`${res.status}: ${String(body.message ?? text)}`);
    return { status: res.status, body };
  };

  try {
    const [command, sub, ...rest] = positionals;
    if (command === 'plan') {
      if (!values.server) throw new CliError(`plan needs --server ID\n\n${USAGE}`);
      const { body } = await call(`/api/sync/catchup/plan?server_id=${encodeURIComponent(values.server)}`);
      printPlan(io, body as unknown as CatchupPreview);
      return 0;
    }
    if (command === 'verify') {
      if (!values.server) throw new CliError(`verify needs --server ID\n\n${USAGE}`);
      const id = Number(values.server);
      if (!Number.isInteger(id) || id <= 0) throw new CliError(`--server: a peer's id (a positive integer), not ${values.server}`);
      const { body } = await call('/api/sync/verify', { method: 'POST', json: { server_id: id, repair: values.repair ?? false } });
      const report = body as unknown as VerifyReport;
      printVerify(io, report);
      return report.level ? 0 : 1;
    }
    if (command === 'conflicts') {
      if (!sub) {
        const { body } = await call('/api/sync/conflicts');
        const rows = body.rows as { table_name: string; record_id: string; loser: Record<string, unknown>; winner: Record<string, unknown> }[];
        const files = body.files as { directory: string; original: string; copy: string }[];
        io.out(
          rows.length
            ? formatTable(
                ['table', 'row', 'lost (origin/sequence)', 'lost at', 'won (origin/sequence)', 'won at'],
                rows.map((r) => [r.table_name, r.record_id, r.loser.identity, r.loser.timestamp, r.winner.identity, r.winner.timestamp]),
              )
            : 'no row conflict',
        );
        io.out(
          files.length
            ? formatTable(
                ['folder', 'file', 'conflict copy'],
                files.map((f) => [f.directory, f.original, f.copy]),
              )
            : 'no file conflict',
        );
        return 0;
      }
      if (sub === 'resolve') {
        const [loser, keep] = rest;
        if (!loser || !keep) throw new CliError(`conflicts resolve needs LOSER and winner or loser\n\n${USAGE}`);
        const { body } = await call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser, keep } });
        io.out(`settled: kept the ${keep}${body.new_change ? `, written again as ${String(body.new_change)}` : ''}`);
        return 0;
      }
      if (sub === 'file') {
        const [directory, copy, keep] = rest;
        if (!directory || !copy || !keep) throw new CliError(`conflicts file needs DIR COPY and winner or copy\n\n${USAGE}`);
        await call('/api/sync/conflicts/files/resolve', { method: 'POST', json: { directory, copy, keep } });
        io.out(`settled: kept the ${keep === 'copy' ? 'copy' : 'winner'} of ${directory}/${copy}`);
        return 0;
      }
    }
    if (command === 'status') {
      const { body } = await call('/api/sync/catchup/status');
      const peers = body.servers_needing_catchup as Record<string, unknown>[];
      io.out(`catch-up ${body.catchup_enabled ? 'enabled' : 'disabled'}, log kept ${body.max_catchup_days} days`);
      io.out(
        peers.length
          ? formatTable(
              ['id', 'name', 'host', 'missing', 'last sync', 'last ping', 'reachable', 'clock offset ms'],
              peers.map((p) => [p.id, p.name, p.host, p.missing_changes, p.last_sync, p.last_ping, p.ping_success, p.clock_offset_ms]),
            )
          : 'no peer needs catch-up',
      );
      // Retention: a peer behind this node's pruned log gets a full baseline; warn a week ahead.
      for (const p of peers) {
        if (p.needs_full_baseline) io.out(`${String(p.name)}: behind this node's pruned log, its next catch-up is a full baseline`);
        else if (typeof p.days_until_full_baseline === 'number' && p.days_until_full_baseline <= 7) {
          io.out(
            `${String(p.name)}: needs a full baseline in ${p.days_until_full_baseline} day(s) unless caught up (max_catchup_days ${String(body.max_catchup_days)})`,
          );
        }
      }
      const logs = body.recent_catchup_logs as Record<string, unknown>[];
      if (logs.length)
        io.out(
          `\n${formatTable(
            ['started', 'server', 'status', 'details'],
            logs.map((l) => [l.started_at, l.server_name, l.status, l.details]),
          )}`,
        );
      return 0;
    }
    if (command === 'scan') {
      const { status, body } = await call('/api/sync/catchup/scan', { method: 'POST', json: values.server ? { server_ids: [Number(values.server)] } : {} });
      if (status === 202) {
        io.out(`${body.message}\n  ${base}${String(body.status_url)}`);
        return 0;
      }
      const results = body.results as CatchupResult[];
      io.out(`${body.message}: ${body.servers_processed} server(s)`);
      if (results.length) {
        io.out(
          formatTable(
            ['server', 'ok', 'sent', 'received', 'applied', 'held', 'files up', 'files down', 'seconds', 'errors'],
            results.map((r) => [
              r.server_name,
              r.success ? 'yes' : 'no',
              r.database_changes.sent,
              r.database_changes.received,
              r.database_changes.applied,
              // Not moved: the other side held them already, relayed by another node.
              (r.database_changes.held_by_peer ?? 0) + (r.database_changes.held_here ?? 0),
              r.file_changes.uploaded,
              r.file_changes.downloaded,
              r.duration.toFixed(1),
              r.errors.join('; '),
            ]),
          ),
        );
      }
      return results.every((r) => r.success) ? 0 : 1;
    }
    if (command === 'servers' && sub === 'list') {
      const { body } = await call('/api/sync/servers');
      const servers = body.servers as Record<string, unknown>[];
      io.out(
        servers.length
          ? formatTable(
              ['id', 'name', 'address', 'active', 'key', 'teams', 'last sync', 'sent cursor', 'received cursor'],
              servers.map((s) => [
                s.id,
                s.name,
                `${s.protocol}://${s.host}:${s.port}`,
                s.is_active,
                s.api_key_set ? 'set' : 'none',
                teamsText(s.team_scope),
                s.last_sync,
                s.sent_cursor,
                s.received_cursor,
              ]),
            )
          : 'no servers registered',
      );
      return 0;
    }
    if (command === 'servers' && sub === 'add') {
      const [name, host, port] = rest;
      if (!name || !host || !port) throw new CliError(`servers add needs NAME HOST PORT\n\n${USAGE}`);
      const { body } = await call('/api/sync/servers', {
        method: 'POST',
        json: {
          name,
          host,
          port: Number(port),
          ...(values.key ? { api_key: values.key } : {}),
          ...(values['tls-fingerprint'] ? { tls_fingerprint: values['tls-fingerprint'], protocol: 'https' } : {}),
          ...(values.protocol ? { protocol: values.protocol } : {}),
          ...(values['issue-credential'] ? { issue_credential: true } : {}),
        },
      });
      io.out(`added server ${body.id}: ${body.name} at ${body.protocol}://${body.host}:${body.port}`);
      if (body.credential) printIssued(io, String(body.name), body.credential as Record<string, unknown>);
      return 0;
    }
    if (command === 'servers' && sub === 'key') {
      const [id, key] = rest;
      if (!id || !key) throw new CliError(`servers key needs ID KEY\n\n${USAGE}`);
      const { body } = await call(`/api/sync/servers/${encodeURIComponent(id)}`, { method: 'PUT', json: { api_key: key } });
      io.out(`server ${id} (${String(body.name)}): the key this node presents to it is set`);
      return 0;
    }
    if (command === 'servers' && sub === 'credentials') {
      const [action, id, credentialId] = rest;
      if (!id || (action === 'revoke' && !credentialId) || !['list', 'issue', 'revoke'].includes(action ?? ''))
        throw new CliError(`servers credentials needs list ID, issue ID or revoke ID CREDENTIAL_ID\n\n${USAGE}`);
      const credentialsPath = `/api/sync/servers/${encodeURIComponent(id)}/credentials`;
      if (action === 'list') {
        const { body } = await call(credentialsPath);
        const credentials = body.credentials as Record<string, unknown>[];
        io.out(
          credentials.length
            ? formatTable(
                ['id', 'label', 'state', 'created', 'expires', 'revoked', 'last used'],
                credentials.map((c) => [c.id, c.label, c.state, c.created_at, c.expires_at, c.revoked_at, c.last_used_at]),
              )
            : `server ${id} has no credentials`,
        );
        return 0;
      }
      if (action === 'issue') {
        const overlap = values['expire-others'];
        if (overlap !== undefined && !/^\d+$/.test(overlap)) throw new CliError('--expire-others needs a number of seconds');
        const { body } = await call(credentialsPath, {
          method: 'POST',
          ...(overlap !== undefined ? { json: { expire_others_in_seconds: Number(overlap) } } : {}),
        });
        printIssued(io, `server ${id}`, body);
        for (const c of body.expiring as Record<string, unknown>[]) io.out(`${String(c.label)} (id ${String(c.id)}) stays valid until ${String(c.expires_at)}`);
        return 0;
      }
      const { body } = await call(`${credentialsPath}/${encodeURIComponent(credentialId!)}`, { method: 'DELETE' });
      io.out(`credential ${String(body.label)} (id ${String(body.id)}) of server ${id} revoked at ${String(body.revoked_at)}`);
      return 0;
    }
    if (command === 'servers' && sub === 'pin') {
      const [id, fingerprint] = rest;
      if (!id || !fingerprint) throw new CliError(`servers pin needs ID FINGERPRINT (or none)\n\n${USAGE}`);
      const json = fingerprint === 'none' ? { tls_fingerprint: null } : { tls_fingerprint: fingerprint, protocol: 'https' };
      const { body } = await call(`/api/sync/servers/${encodeURIComponent(id)}`, { method: 'PUT', json });
      io.out(
        body.tls_fingerprint ? `server ${id} pinned to TLS fingerprint ${body.tls_fingerprint}` : `server ${id} unpinned: its certificate is verified by CA`,
      );
      return 0;
    }
    if (command === 'servers' && sub === 'teams') {
      const [id, teams] = rest;
      if (!id || !teams) throw new CliError(`servers teams needs ID and TEAMS (e.g. 254,971) or all\n\n${USAGE}`);
      const scope = teams === 'all' ? null : teams.split(',').map((t) => (/^\d+$/.test(t.trim()) ? Number(t.trim()) : t.trim()));
      const { body } = await call(`/api/sync/servers/${encodeURIComponent(id)}`, { method: 'PUT', json: { team_scope: scope } });
      io.out(`server ${id} (${String(body.name)}) may see and write ${teamsText(body.team_scope)}`);
      return 0;
    }
    if (command === 'servers' && sub === 'compression') {
      const [id, level] = rest;
      if (!id || !level) throw new CliError(`servers compression needs ID and LEVEL (0-19) or default\n\n${USAGE}`);
      const json = { compression_level: level === 'default' ? null : /^\d+$/.test(level) ? Number(level) : level };
      const { body } = await call(`/api/sync/servers/${encodeURIComponent(id)}`, { method: 'PUT', json });
      const chosen =
        body.compression_level === null
          ? "this node's COMPRESSION_LEVEL"
          : body.compression_level === 0
            ? 'no compression'
            : `zstd level ${body.compression_level}`;
      io.out(`server ${id} (${String(body.name)}): ${chosen}`);
      return 0;
    }
    if (command === 'servers' && sub === 'remove') {
      const [id] = rest;
      if (!id) throw new CliError('servers remove needs an ID');
      await call(`/api/sync/servers/${encodeURIComponent(id)}`, { method: 'DELETE' });
      io.out(`removed server ${id}`);
      return 0;
    }
    if (command === 'tables' && sub === 'list') {
      const { body } = await call('/api/sync/tables');
      const tables = body.tables as Record<string, unknown>[];
      io.out(
        tables.length
          ? formatTable(
              ['name', 'standing', 'rows', 'log entries'],
              tables.map((t) => [t.name, t.standing, t.rows_estimated ? `~${t.rows}` : t.rows, t.log_entries]),
            )
          : 'no application tables',
      );
      const problems = tables.filter((t) => t.standing !== 'synced' && t.problem);
      if (problems.length) io.out(`\ncannot be synced as they are:\n${problems.map((t) => `  ${t.name}: ${t.problem}`).join('\n')}`);
      return 0;
    }
    if (command === 'tables' && sub === 'add') {
      const [name] = rest;
      if (!name) throw new CliError('tables add needs a table NAME');
      const { body } = await call('/api/sync/tables', { method: 'POST', json: { name } });
      io.out(body.added ? `${name} is synced now; ${body.baseline_rows} existing row(s) logged` : `${name} was synced already`);
      return 0;
    }
    if (command === 'tables' && sub === 'remove') {
      const [name] = rest;
      if (!name) throw new CliError('tables remove needs a table NAME');
      await call(`/api/sync/tables/${encodeURIComponent(name)}`, { method: 'DELETE' });
      io.out(`${name} is no longer synced`);
      return 0;
    }
    if (command === 'prune') {
      const { body } = await call('/api/sync/maintenance/prune', { method: 'POST' });
      if (!body.ran) {
        io.out('another prune is running; nothing done');
        return 0;
      }
      const removed = body.removed as Record<string, number>;
      const horizons = body.horizons as Record<string, string>;
      io.out(
        `pruned what is older than ${String(body.before)}: ${removed.change_log_entries} change-log entries (${removed.change_log_deletes} superseded deletes), ` +
          `${removed.file_tombstones} file tombstones, ${removed.sync_logs} sync logs; log pruned through position ${horizons.pruned_through}`,
      );
      return 0;
    }
    if (command === 'logs') {
      const query = new URLSearchParams({ page_size: String(Number(values.limit ?? 20)) });
      if (values.kind) query.set('kind', values.kind);
      if (values.operation) query.set('operation', values.operation);
      const { body } = await call(`/api/sync/logs?${query}`);
      const logs = body.logs as Record<string, unknown>[];
      io.out(
        logs.length
          ? formatTable(
              ['id', 'started', 'server', 'operation', 'status', 'details', 'by'],
              logs.map((l) => [l.id, l.started_at, l.server_name, l.operation, l.status, l.details, l.actor]),
            )
          : 'no sync log entries',
      );
      return 0;
    }
    throw new CliError(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2), { out: (t) => console.log(t), err: (t) => console.error(t), env: process.env });
}
