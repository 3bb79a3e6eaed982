// The Grafana dashboard and Prometheus alert rules in ops/ stand on what a node exports: every metric
// their PromQL names is served by a real node's /metrics, every rule is complete, and every README
// section an alert points the operator at exists.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { useApiNodes } from './nodes.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const dashboard = JSON.parse(await readFile(path.join(root, 'ops/grafana/catchup-sync.json'), 'utf8')) as Dashboard;
const rules = parse(await readFile(path.join(root, 'ops/prometheus/catchup-sync.rules.yml'), 'utf8')) as RuleFile;
const readme = await readFile(path.join(root, 'README.md'), 'utf8');

const [node] = await useApiNodes(1, 'ops', { RUN_WORKERS: 'false' });

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

/** Prometheus's own series, not a node's. */
const PROMETHEUS_SERIES = new Set(['up']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: identifiers left once strings, label matchers, ranges,
 * label lists (by, without, on, …) and Grafana variables are taken out, except functions and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = [...bare.matchAll(/(?<![\w:.])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g)].map((m) => m[0]);
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase())))];
}

/** How panels and targets name the data source: the dashboard's DS_PROMETHEUS variable. */
const DATA_SOURCE = ['$', '{DS_PROMETHEUS}'].join('');

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panelExprs = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
const variableExprs = dashboard.templating.list
  .filter((v) => v.type === 'query')
  .map((v) => {
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    // label_values(<series selector>, <label>): the selector is the PromQL part.
    return { where: `variable ${v.name}`, expr: query.replace(/^label_values\((.*),\s*\w+\)$/, '$1') };
  });
const allRules = rules.groups.flatMap((g) => g.rules);
const ruleExprs = allRules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr ?? '' }));

/** Every metric name /metrics declares (# TYPE), with the series names of histograms and summaries. */
async function exported(): Promise<Set<string>> {
  const res = await fetch(`${node!.url}/metrics`);
  expect(res.status).toBe(200);
  const names = new Set<string>();
  for (const [, name, type] of (await res.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

describe('metricNames', () => {
  it('finds the series and leaves out functions, labels, ranges, variables and keywords', () => {
    expect(metricNames('histogram_quantile(0.9, sum by (le) (rate(catchup_duration_seconds_bucket{instance=~"$node", le!="1"}[$__rate_interval])))')).toEqual([
      'catchup_duration_seconds_bucket',
    ]);
    expect(metricNames('catchup_peer_reachable == 0 and increase(catchup_peer_ping_failures_total[1h]) >= 3')).toEqual([
      'catchup_peer_reachable',
      'catchup_peer_ping_failures_total',
    ]);
    expect(metricNames('(sum(a_total{x="y z"}) or vector(0)) / sum without (queue) (b) > bool 1e3')).toEqual(['a_total', 'b']);
    expect(metricNames('time() - up{job="catchup-sync"}')).toEqual(['up']);
  });
});

describe('ops/ dashboards and alert rules', () => {
  it('use only metrics a node exports (up is Prometheus’s own)', async () => {
    const names = await exported();
    const used = [...panelExprs, ...variableExprs, ...ruleExprs].flatMap(({ where, expr }) => metricNames(expr).map((name) => ({ where, name })));
    expect(used.length).toBeGreaterThan(40);
    const unknown = used.filter(({ name }) => !names.has(name) && !PROMETHEUS_SERIES.has(name));
    expect(unknown).toEqual([]);
    // What the alerts stand on is all in use.
    const usedNames = new Set(used.map((u) => u.name));
    for (const name of [
      'catchup_peer_consecutive_failures',
      'catchup_peer_days_until_full_baseline',
      'catchup_peer_needs_full_baseline',
      'catchup_integrity_alerts_total',
      'catchup_queue_jobs',
      'catchup_duration_seconds_bucket',
      'up',
    ]) {
      expect(usedNames, name).toContain(name);
    }
  });

  it('has a complete rule for each alert, each pointing at README sections that exist', () => {
    const alerts = allRules.map((r) => r.alert);
    expect(new Set(alerts).size).toBe(alerts.length);
    expect(alerts).toEqual(
      expect.arrayContaining([
        'CatchupNodeDown',
        'CatchupPeerFailingRepeatedly',
        'CatchupPeerNearRetention',
        'CatchupPeerNeedsFullBaseline',
        'CatchupIntegrityAlert',
        'CatchupQueueBacklog',
      ]),
    );
    const headings = [...readme.matchAll(/^### (.+)$/gm)].map((m) => m[1]!);
    for (const rule of allRules) {
      expect(rule.alert, JSON.stringify(rule)).toMatch(/^Catchup[A-Z]\w+$/);
      expect(rule.expr, `${rule.alert} expr`).toMatch(/\S/);
      expect(rule.for, `${rule.alert} for`).toMatch(/^\d+[smhd]$/);
      expect(rule.labels?.severity, `${rule.alert} severity`).toMatch(/^(critical|warning|info)$/);
      expect(rule.annotations?.summary, `${rule.alert} summary`).toMatch(/\S/);
      const description = rule.annotations?.description ?? '';
      const sections = [...description.matchAll(/Operations → ([^;)]+)/g)].map((m) => m[1]!.trim().replace(/\s+/g, ' '));
      expect(sections.length, `${rule.alert} points at README`).toBeGreaterThan(0);
      for (const section of sections)
        expect(
          headings.some((h) => h.startsWith(section)),
          `${rule.alert}: README section "${section}"`,
        ).toBe(true);
    }
  });

  it('asks for its Prometheus data source and node as variables, used by every panel', () => {
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('node')).toMatchObject({ type: 'query' });
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe(DATA_SOURCE);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) {
        expect(target.datasource?.uid, panel.title).toBe(DATA_SOURCE);
        expect(target.expr, panel.title).toContain('instance=~"$node"');
      }
    }
  });
});
