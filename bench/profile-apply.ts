// Temporary: per-statement timing of applyBatch at batch 1000.
import { applyBatch } from '@catchup/changelog';
import { createPool } from '@catchup/db';
import { cloneDatabase, freshMigratedDatabase } from './databases.ts';
import { makeWorkload } from './workload.ts';

const size = Number(process.env.N ?? 30000);
const { baseline, changes } = makeWorkload(size);
const url = await freshMigratedDatabase('catchup_prof_tpl');
const tp = createPool(url, 1);
const c0 = await tp.connect();
await c0.query('BEGIN'); await c0.query(`SET LOCAL catchup.applying = 'on'`);
for (let i = 0; i < baseline.length; i += 10000) await c0.query(`INSERT INTO scouting_data SELECT * FROM jsonb_populate_recordset(NULL::scouting_data, $1::jsonb)`, [JSON.stringify(baseline.slice(i, i + 10000))]);
await c0.query('COMMIT'); c0.release(); await tp.query('VACUUM ANALYZE scouting_data'); await tp.end();
const rurl = await cloneDatabase('catchup_prof_tpl', 'catchup_prof_raw');
const rpool = createPool(rurl, 2);
const tr = performance.now();
for (let i = 0; i < changes.length; i += 1000) {
  const batch = changes.slice(i, i + 1000);
  const last = new Map<string, any>(); for (const c of batch) last.set(c.record_id, c);
  const ups = [...last.values()].filter((c) => c.operation !== 'delete').map((c) => c.change_data);
  const dels = [...last.values()].filter((c) => c.operation === 'delete').map((c) => c.record_id);
  const cl = await rpool.connect();
  await cl.query('BEGIN'); await cl.query(`SET LOCAL catchup.applying = 'on'`);
  await cl.query({ name: 'rawup', text: `INSERT INTO scouting_data SELECT * FROM jsonb_populate_recordset(NULL::scouting_data, $1::jsonb) ON CONFLICT (id) DO UPDATE SET team_number = EXCLUDED.team_number, match_number = EXCLUDED.match_number, event_id = EXCLUDED.event_id, scouting_team_number = EXCLUDED.scouting_team_number, scouter = EXCLUDED.scouter, data = EXCLUDED.data, is_active = EXCLUDED.is_active, updated_at = EXCLUDED.updated_at`, values: [JSON.stringify(ups)] });
  if (dels.length) await cl.query({ name: 'rawdel', text: 'DELETE FROM scouting_data WHERE id = ANY($1::uuid[])', values: [dels] });
  await cl.query('COMMIT'); cl.release();
}
const rawMs = performance.now() - tr;
console.log('raw', rawMs.toFixed(0), 'rate', (size / rawMs * 1000).toFixed(0));
await rpool.end();
const purl = await cloneDatabase('catchup_prof_tpl', 'catchup_prof_run');
const pool = createPool(purl, 2);
const times = new Map<string, number>();
const origConnect = pool.connect.bind(pool);
(pool as any).connect = async (cb?: any) => {
  if (cb) return origConnect(cb);
  const client: any = await origConnect();
  if (!client.__wrapped) {
    const q = client.query.bind(client);
    client.query = async (...args: any[]) => {
      const text = typeof args[0] === "string" ? args[0] : args[0].text;
      const key = text.replace(/\s+/g, ' ').slice(0, 50);
      const t = performance.now();
      try { return await q(...args); } finally { times.set(key, (times.get(key) ?? 0) + performance.now() - t); }
    };
    client.__wrapped = true;
  }
  return client;
};
const t0 = performance.now();
for (let i = 0; i < changes.length; i += 1000) await applyBatch(pool, changes.slice(i, i + 1000));
const total = performance.now() - t0;
let sql = 0;
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) { sql += v; console.log(v.toFixed(0).padStart(6), k); }
console.log('total', total.toFixed(0), 'sql', sql.toFixed(0), 'js', (total - sql).toFixed(0), 'rate', (size / total * 1000).toFixed(0), 'ratio', (rawMs / total).toFixed(2));
await pool.end();
