import { describe, expect, it } from 'vitest';
import { call, useTwoNodes, writeRows } from './two-nodes.ts';

const pair = await useTwoNodes('metrics', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '60', CATCHUP_BATCH_SIZE: '100' });
const { a } = pair;

const scrape = async () => {
  const res = await fetch(`${a.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('/metrics', () => {
  it('reports missing changes per peer and queue depths before a catch-up', async () => {
    await writeRows(a, 250, 'for metrics');
    const text = await scrape();
    expect(value(text, `catchup_missing_changes{peer="${pair.specB.name}"}`)).toBe(250);
    expect(text).toMatch(/^catchup_queue_jobs\{queue="batch-send",state="waiting"\} 0$/m);
    expect(text).toMatch(/^catchup_process_resident_memory_bytes \d+/m);
  });

  it('counts catch-ups by outcome, changes moved and durations after one', async () => {
    const res = await call(a, pair.specA.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const text = await scrape();
    expect(value(text, 'catchup_runs_total{outcome="completed"}')).toBe(1);
    expect(value(text, 'catchup_changes_total{kind="sent"}')).toBe(250);
    expect(value(text, 'catchup_duration_seconds_count')).toBe(1);
    expect(value(text, 'catchup_file_bytes_total')).toBe(0);
    expect(value(text, 'catchup_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(value(text, `catchup_missing_changes{peer="${pair.specB.name}"}`)).toBe(0);
    expect(value(text, 'catchup_queue_jobs{queue="batch-send",state="completed"}')).toBe(3);
    // A second scrape does not count the same run twice.
    expect(value(await scrape(), 'catchup_runs_total{outcome="completed"}')).toBe(1);
  });
});
