// The dashboard's stylesheet and script, served from the node itself (no build step, no CDN: nodes may
// have no internet). Served as files, not inline, so the page's Content-Security-Policy allows no inline code.

export const DASHBOARD_CSS = `
:root { color-scheme: light; --text: #1b1f24; --muted: #4a5360; --line: #d4d9e0; --bg: #ffffff; --band: #f5f7fa;
  --ok: #0a5c2b; --ok-bg: #e2f3e7; --bad: #9b1419; --bad-bg: #fbe3e4; --warn: #6b4200; --warn-bg: #fff0d1; --idle: #39424e; --idle-bg: #e8ebef;
  --accent: #0b4f9c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--text); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); background: var(--band); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
main { padding: 8px 24px 32px; max-width: 1400px; }
.meta { margin: 0; color: var(--muted); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: 8px 0 16px; }
table.narrow { width: auto; min-width: 320px; table-layout: auto; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
thead th { background: var(--band); font-weight: 600; }
tbody th { font-weight: 600; }
.num { text-align: right; }
small { color: var(--muted); }
.muted { color: var(--muted); }
.error-text { color: var(--bad); }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge-ok { color: var(--ok); background: var(--ok-bg); }
.badge-bad { color: var(--bad); background: var(--bad-bg); }
.badge-warn { color: var(--warn); background: var(--warn-bg); }
.badge-idle { color: var(--idle); background: var(--idle-bg); }
button { font: inherit; padding: 3px 10px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button:hover { background: #083c78; }
button:disabled { background: var(--idle-bg); color: var(--idle); border-color: var(--line); cursor: not-allowed; }
form.inline { display: inline; }
.toolbar { margin: 4px 0; }
.actions a { margin-left: 6px; }
.notice { padding: 8px 12px; border-radius: 4px; background: var(--ok-bg); color: var(--ok); }
.notice-warn { background: var(--warn-bg); color: var(--warn); }
.visually-hidden { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); margin-bottom: 4px; }
.chart { width: 100%; max-width: 760px; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis { stroke: var(--muted); stroke-width: 1; }
.chart .axis-label { fill: var(--muted); font-size: 11px; }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart .dot { stroke: #fff; stroke-width: 1; }
.chart .dot-ok { fill: #1e7d3e; }
.chart .dot-bad { fill: #c0262c; }
.chart .dot-warn { fill: #b07000; }
.chart .dot-idle { fill: var(--idle); }
col.c-peer { width: 15%; } col.c-reach { width: 13%; } col.c-clock { width: 8%; } col.c-sync { width: 11%; } col.c-missing { width: 9%; }
col.c-retention { width: 12%; } col.c-error { width: 20%; } col.c-actions { width: 12%; }
col.c-started { width: 13%; } col.c-status { width: 10%; } col.c-duration { width: 8%; } col.c-details { width: 54%; }
table.runs col.c-peer { width: 15%; }
`;

/**
 * Live updates: every few seconds (while the tab is visible) the live part of the page is fetched again
 * and replaced when it changed, keeping the focused button focused.
 */
export const DASHBOARD_JS = `'use strict';
(function () {
  var live = document.getElementById('live');
  if (!live) return;
  var src = live.getAttribute('data-src');
  var interval = Number(live.getAttribute('data-interval')) || 3000;
  var updated = document.getElementById('updated');
  var last = null;
  function schedule() { setTimeout(tick, interval); }
  function tick() {
    if (document.hidden) return schedule();
    fetch(src, { credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (html === null) return;
        if (html !== last) {
          var focused = document.activeElement && document.activeElement.id;
          live.innerHTML = html;
          last = html;
          if (focused) { var again = document.getElementById(focused); if (again) again.focus(); }
        }
        if (updated) updated.textContent = new Date().toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
      })
      .catch(function () {})
      .then(schedule);
  }
  schedule();
})();
`;
