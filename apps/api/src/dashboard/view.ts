// The sync dashboard's HTML, rendered on the server from DashboardData (pure functions). Values that
// change from run to run (times, durations, addresses, ids) carry data-dynamic, which the screenshot
// test masks.
import type { CatchupPreview } from '@catchup/engine';
import type { RowConflict } from '@catchup/changelog';
import type { FileConflict } from '@catchup/files';
import type { ChartPoint, DashboardData, PeerView, RunView } from './data.ts';

export const DASHBOARD_PATH = '/admin/sync';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text for HTML content and quoted attribute values. */
export const esc = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A UTC time in a <time> element, or a dash. */
function time(d: Date | null): string {
  if (!d) return '<span class="muted">never</span>';
  const iso = d.toISOString();
  return `<time datetime="${iso}" data-dynamic>${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const number = (n: number) => n.toLocaleString('en-US');

/** A status as a badge: its word is always shown, the colour only repeats it. */
function badge(kind: 'ok' | 'bad' | 'warn' | 'idle', text: string): string {
  return `<span class="badge badge-${kind}">${esc(text)}</span>`;
}

const RUN_STATUS: Record<string, 'ok' | 'bad' | 'warn'> = { completed: 'ok', failed: 'bad', partial: 'warn' };

function reachability(peer: PeerView): string {
  const state = peer.pingSuccess === null ? badge('idle', 'not pinged') : peer.pingSuccess ? badge('ok', 'reachable') : badge('bad', 'unreachable');
  return `${state}<br><small>last ping ${time(peer.lastPing)}</small>`;
}

function clockOffset(ms: number | null): string {
  if (ms === null) return '<span class="muted">unknown</span>';
  return `<span data-dynamic>${ms > 0 ? '+' : ''}${number(ms)} ms</span>`;
}

function missing(peer: PeerView): string {
  if (peer.missingChanges === null) return '<span class="muted">not measured</span>';
  if (peer.missingChanges === 0) return badge('ok', 'level');
  const eta = peer.secondsToLevel === null ? '' : `<br><small>about <span data-dynamic>${esc(formatSeconds(peer.secondsToLevel))}</span> to level</small>`;
  return `<strong>${number(peer.missingChanges)}</strong> changes${eta}`;
}

function retention(peer: PeerView): string {
  if (peer.needsFullBaseline) return badge('bad', 'full baseline needed');
  if (peer.daysUntilFullBaseline === null) return '<span class="muted">nothing pending</span>';
  const days = peer.daysUntilFullBaseline;
  return days <= 1 ? badge('warn', `full baseline in ${days} d`) : `<span data-dynamic>${days} d</span> until a full baseline`;
}

function activity(peer: PeerView): string {
  if (!peer.syncing) return badge('idle', 'sync off');
  if (peer.inFlight === 'running') return badge('warn', 'catching up…');
  if (peer.inFlight === 'queued') return badge('idle', 'queued');
  return '';
}

function lastError(peer: PeerView): string {
  if (!peer.lastError) return '<span class="muted">none</span>';
  const row = peer.failuresInRow > 1 ? `<br><small>${peer.failuresInRow} failed runs in a row</small>` : '';
  return `<span class="error-text">${esc(peer.lastError)}</span>${row}`;
}

function scanForm(csrf: string, peer?: PeerView): string {
  const id = peer ? `scan-${peer.id}` : 'scan-all';
  const label = peer ? `Scan <span class="visually-hidden">${esc(peer.name)}</span>` : 'Scan all peers';
  return `<form method="post" action="${DASHBOARD_PATH}/scan" class="inline">
<input type="hidden" name="csrf" value="${esc(csrf)}">${peer ? `<input type="hidden" name="server_id" value="${peer.id}">` : ''}
<button type="submit" id="${id}"${peer && !peer.syncing ? ' disabled' : ''}>${label}</button></form>`;
}

function peersTable(data: DashboardData, csrf: string): string {
  if (!data.peers.length) return '<p>No peers are registered (POST /api/sync/servers, or <code>npm run catchup -- servers add</code>).</p>';
  const rows = data.peers
    .map(
      (p) => `<tr id="peer-${p.id}">
<th scope="row">${esc(p.name)}<br><small data-dynamic>${esc(p.address)}</small> ${activity(p)}</th>
<td>${reachability(p)}</td>
<td>${clockOffset(p.clockOffsetMs)}</td>
<td>${time(p.lastSync)}</td>
<td>${missing(p)}</td>
<td>${retention(p)}</td>
<td>${lastError(p)}</td>
<td class="actions">${scanForm(csrf, p)} <a href="${DASHBOARD_PATH}/plan?server_id=${p.id}">Plan<span class="visually-hidden"> for ${esc(p.name)}</span></a></td>
</tr>`,
    )
    .join('\n');
  return `<table class="peers">
<caption class="visually-hidden">Peers</caption>
<colgroup><col class="c-peer"><col class="c-reach"><col class="c-clock"><col class="c-sync"><col class="c-missing"><col class="c-retention"><col class="c-error"><col class="c-actions"></colgroup>
<thead><tr><th scope="col">Peer</th><th scope="col">Reachability</th><th scope="col">Clock offset</th><th scope="col">Last sync</th><th scope="col">Missing changes</th><th scope="col">Retention</th><th scope="col">Last error</th><th scope="col">Actions</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function runsTable(runs: RunView[]): string {
  if (!runs.length) return '<p>No catch-up has run yet.</p>';
  const rows = runs
    .map(
      (r) => `<tr>
<td>${time(r.startedAt)}</td>
<td>${r.serverName ? esc(r.serverName) : '<span class="muted">removed peer</span>'}</td>
<td>${badge(RUN_STATUS[r.status] ?? 'idle', r.status)}${r.mode === 'full baseline' ? ' <small>full baseline</small>' : ''}</td>
<td><span data-dynamic>${r.duration === null ? '—' : formatSeconds(r.duration)}</span></td>
<td>${esc(r.details ?? '')}${r.errorMessage ? `<br><span class="error-text">${esc(r.errorMessage)}</span>` : ''}</td>
</tr>`,
    )
    .join('\n');
  return `<table class="runs">
<caption>Recent catch-up runs</caption>
<colgroup><col class="c-started"><col class="c-peer"><col class="c-status"><col class="c-duration"><col class="c-details"></colgroup>
<thead><tr><th scope="col">Started</th><th scope="col">Peer</th><th scope="col">Outcome</th><th scope="col">Duration</th><th scope="col">Details</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

/** A round upper bound for the y axis (1, 2 or 5 times a power of ten). */
export function niceCeiling(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (max <= step * power) return step * power;
  return 10 * power;
}

const CHART = { width: 760, height: 220, left: 56, right: 16, top: 16, bottom: 36 };

/** The catch-up durations over time as an inline SVG (time on x, seconds on y, one point per run). */
export function durationChart(points: ChartPoint[]): string {
  const { width, height, left, right, top, bottom } = CHART;
  const title = '<title id="chart-title">Catch-up durations over time</title>';
  if (!points.length) {
    return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title chart-desc">${title}<desc id="chart-desc">No finished catch-up yet.</desc>
<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="axis-label">No finished catch-up yet</text></svg>`;
  }
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const t0 = points[0]!.at.getTime();
  const t1 = points[points.length - 1]!.at.getTime();
  const yMax = niceCeiling(Math.max(...points.map((p) => p.seconds)));
  // Runs spread over time; when they all started in the same millisecond, by order.
  const x = (p: ChartPoint, i: number) =>
    left + (t1 > t0 ? ((p.at.getTime() - t0) / (t1 - t0)) * plotW : points.length > 1 ? (i / (points.length - 1)) * plotW : plotW / 2);
  const y = (seconds: number) => top + plotH - (seconds / yMax) * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const gy = y(f * yMax).toFixed(1);
      return `<line x1="${left}" x2="${width - right}" y1="${gy}" y2="${gy}" class="grid"/><text x="${left - 6}" y="${gy}" dy="0.32em" text-anchor="end" class="axis-label">${esc(formatSeconds(f * yMax))}</text>`;
    })
    .join('');
  const coords = points.map((p, i) => `${x(p, i).toFixed(1)},${y(p.seconds).toFixed(1)}`);
  const dots = points
    .map((p, i) => {
      const label = `${p.at.toISOString().slice(0, 19).replace('T', ' ')} UTC, ${p.serverName ?? 'removed peer'}: ${formatSeconds(p.seconds)}, ${p.status}`;
      return `<circle cx="${x(p, i).toFixed(1)}" cy="${y(p.seconds).toFixed(1)}" r="4" class="dot dot-${RUN_STATUS[p.status] ?? 'idle'}"><title>${esc(label)}</title></circle>`;
    })
    .join('');
  const first = points[0]!.at.toISOString().slice(0, 16).replace('T', ' ');
  const last = points[points.length - 1]!.at.toISOString().slice(0, 16).replace('T', ' ');
  const longest = Math.max(...points.map((p) => p.seconds));
  const desc = `${points.length} finished runs from ${first} to ${last} UTC; the longest took ${formatSeconds(longest)}.`;
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title chart-desc" data-dynamic>${title}<desc id="chart-desc">${esc(desc)}</desc>
${grid}
<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" class="axis"/>
<polyline points="${coords.join(' ')}" class="line"/>
${dots}
<text x="${left}" y="${height - 10}" class="axis-label">${esc(first)} UTC</text>
<text x="${width - right}" y="${height - 10}" text-anchor="end" class="axis-label">${esc(last)} UTC</text>
</svg>`;
}

function summary(data: DashboardData): string {
  const running = data.peers.filter((p) => p.inFlight === 'running').map((p) => p.name);
  const queued = data.peers.filter((p) => p.inFlight === 'queued').length;
  const behind = data.peers.filter((p) => (p.missingChanges ?? 0) > 0).length;
  const parts = [
    running.length ? `Catching up with ${running.map(esc).join(', ')}.` : 'No catch-up is running.',
    queued ? `${queued} queued.` : '',
    data.detectionsInFlight ? 'A detection is under way.' : '',
    `${behind} of ${data.peers.length} peer(s) miss changes.`,
  ];
  return parts.filter(Boolean).join(' ');
}

/** The part of the page the live updates replace: summary, peers, runs and chart. */
export function liveSection(data: DashboardData, csrf: string): string {
  return `<p id="activity" role="status">${summary(data)}</p>
<section aria-labelledby="peers-heading"><h2 id="peers-heading">Peers</h2>
<div class="toolbar">${scanForm(csrf)}</div>
${peersTable(data, csrf)}
</section>
<section aria-labelledby="runs-heading"><h2 id="runs-heading">Catch-up runs</h2>
<figure><figcaption>Durations of the last ${data.chart.length} finished runs (green completed, amber partial, red failed)</figcaption>
${durationChart(data.chart)}</figure>
${runsTable(data.runs)}
</section>`;
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${DASHBOARD_PATH}/dashboard.css">
</head><body>
${body}
</body></html>`;
}

/** What a scan post leaves for the page to say (?notice=…&job=…); only these, never text from the query. */
export type Notice = { kind: 'scan'; job: string } | { kind: 'disabled' } | undefined;

function noticeBanner(notice: Notice): string {
  if (!notice) return '';
  if (notice.kind === 'disabled') return '<p class="notice notice-warn" role="alert">Catch-up is disabled (catchup_enabled = false): nothing was queued.</p>';
  return `<p class="notice" role="status">Scan requested (detection job <span data-dynamic>${esc(notice.job)}</span>). This page follows it.</p>`;
}

export function dashboardPage(data: DashboardData, csrf: string, notice: Notice, pollMs: number): string {
  const header = `<header><h1>Catch-up Sync · ${esc(data.nodeName)}</h1>
<p class="meta">Catch-up ${data.catchupEnabled ? badge('ok', 'enabled') : badge('bad', 'disabled')} · retention ${data.maxCatchupDays} days · log pruned through ${esc(data.prunedThrough)} · updated <span id="updated" data-dynamic>${time(data.readAt)}</span> · <a href="/admin/queues">Queues (Bull Board)</a> · <a href="${DASHBOARD_PATH}/conflicts">Conflicts</a></p></header>`;
  return layout(
    `Sync dashboard · ${data.nodeName}`,
    `${header}
<main>
${noticeBanner(notice)}
<div id="live" data-src="${DASHBOARD_PATH}/live" data-interval="${pollMs}">
${liveSection(data, csrf)}
</div>
</main>
<script src="${DASHBOARD_PATH}/dashboard.js" defer></script>`,
  );
}

function tableChanges(caption: string, part: { changes: number; tables: { table_name: string; changes: number }[] } | null): string {
  if (!part) return `<p><strong>${esc(caption)}:</strong> unknown (the peer did not answer, or cannot say).</p>`;
  if (!part.tables.length) return `<p><strong>${esc(caption)}:</strong> nothing.</p>`;
  const rows = part.tables.map((t) => `<tr><th scope="row">${esc(t.table_name)}</th><td class="num">${number(t.changes)}</td></tr>`).join('');
  return `<table class="narrow"><caption>${esc(caption)}: ${number(part.changes)} changes</caption>
<thead><tr><th scope="col">Table</th><th scope="col" class="num">Changes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

export function planPage(nodeName: string, plan: CatchupPreview): string {
  const files = plan.files
    ? `<table><caption>Files per folder</caption>
<thead><tr><th scope="col">Folder</th><th scope="col">Upload</th><th scope="col">Download</th><th scope="col">Deletes there</th><th scope="col">Deletes here</th><th scope="col">Conflicts</th></tr></thead><tbody>${plan.files
        .map(
          (f) =>
            `<tr><th scope="row">${esc(f.directory)}</th><td>${f.upload.files} files, ${bytes(f.upload.bytes)}</td><td>${f.download.files} files, ${bytes(f.download.bytes)}</td><td>${f.delete_remote}</td><td>${f.delete_local}</td><td>${f.conflicts}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p><strong>Files:</strong> unknown (the peer did not answer).</p>';
  const baseline = [plan.full_baseline.send ? 'sending' : '', plan.full_baseline.receive ? 'receiving' : ''].filter(Boolean).join(' and ');
  return layout(
    `Catch-up plan · ${plan.server_name} · ${nodeName}`,
    `<header><h1>Catch-up plan: ${esc(nodeName)} ⇄ ${esc(plan.server_name)}</h1>
<p class="meta"><a href="${DASHBOARD_PATH}">Back to the dashboard</a> · what a catch-up would move now; nothing moves</p></header>
<main>
<p>${plan.reachable ? badge('ok', 'reachable') : `${badge('bad', 'unreachable')} <span class="error-text">${esc(plan.error ?? '')}</span>`}</p>
<p><strong>Full baseline:</strong> ${baseline ? `yes, ${esc(baseline)}` : 'no'}.
<strong>Estimated time:</strong> ${plan.estimated_seconds === null ? 'unknown' : esc(formatSeconds(plan.estimated_seconds))} <small>(${esc(plan.estimate_basis)})</small></p>
${tableChanges('To send', plan.database.send)}
${tableChanges('To receive', plan.database.receive)}
${files}
</main>`,
  );
}

/** A row image as a short readable text: its columns, the id left out. */
function rowText(data: Record<string, unknown> | null): string {
  if (data === null) return 'deleted';
  return Object.entries(data)
    .filter(([k]) => k !== 'id')
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function settleForm(csrf: string, fields: Record<string, string>, label: string): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  return `<form method="post" action="${DASHBOARD_PATH}/conflicts/resolve" class="inline"><input type="hidden" name="csrf" value="${esc(csrf)}">${inputs}<button type="submit">${esc(label)}</button></form>`;
}

/** The conflict inbox: rows whose concurrent edit lost, and files kept as conflict copies, each with buttons to settle it. */
export function conflictsPage(nodeName: string, inbox: { rows: RowConflict[]; files: FileConflict[] }, csrf: string, settled?: string): string {
  const rows = inbox.rows.length
    ? `<table><caption>Rows: a concurrent edit lost</caption>
<thead><tr><th scope="col">Row</th><th scope="col">Kept (won)</th><th scope="col">Lost</th><th scope="col">Settle</th></tr></thead><tbody>${inbox.rows
        .map(
          (c) => `<tr><th scope="row">${esc(c.table_name)}<br><small>${esc(c.record_id)}</small></th>
<td>${esc(rowText(c.winner.data))}<br><small>by ${esc(c.winner.origin_node_id)} at ${esc(c.winner.timestamp)}, hlc ${esc(c.winner.hlc)}</small></td>
<td>${esc(rowText(c.loser.data))}<br><small>by ${esc(c.loser.origin_node_id)} at ${esc(c.loser.timestamp)}, hlc ${esc(c.loser.hlc)}</small></td>
<td>${settleForm(csrf, { kind: 'row', loser: c.loser.identity, keep: 'winner' }, 'Keep the winner')} ${settleForm(csrf, { kind: 'row', loser: c.loser.identity, keep: 'loser' }, 'Use the lost version')}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>No row conflict.</p>';
  const files = inbox.files.length
    ? `<table><caption>Files: conflict copies</caption>
<thead><tr><th scope="col">File</th><th scope="col">Kept (won)</th><th scope="col">Conflict copy (lost)</th><th scope="col">Settle</th></tr></thead><tbody>${inbox.files
        .map(
          (f) => `<tr><th scope="row">${esc(f.directory)}/${esc(f.original)}</th>
<td>${f.winner ? `${bytes(f.winner.size)}, sha256 ${esc(f.winner.sha256.slice(0, 12))}…` : 'missing'}</td>
<td>${esc(f.copy)}<br><small>${bytes(f.loser.size)}, sha256 ${esc(f.loser.sha256.slice(0, 12))}…</small></td>
<td>${settleForm(csrf, { kind: 'file', directory: f.directory, copy: f.copy, keep: 'winner' }, 'Keep the winner')} ${settleForm(csrf, { kind: 'file', directory: f.directory, copy: f.copy, keep: 'copy' }, 'Use the copy')}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>No file conflict.</p>';
  return layout(
    `Conflicts · ${nodeName}`,
    `<header><h1>Conflicts · ${esc(nodeName)}</h1>
<p class="meta"><a href="${DASHBOARD_PATH}">Back to the dashboard</a> · last writer wins decided each; the lost version is kept and can be used instead (it is written as a new change and propagates)</p></header>
<main>${settled ? `<p class="notice" role="status">${esc(settled)}</p>` : ''}
${rows}
${files}
</main>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<main><h1>${esc(title)}</h1><p>${esc(message)}</p><p><a href="${DASHBOARD_PATH}">Back to the dashboard</a></p></main>`);
}
