// The demo is the product's three-node story: run it as a user would, to its converged end.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('npm run demo -- --exit', () => {
  it('takes three node processes through the offline episode to identical tables and file trees', async () => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'scripts/demo.ts', '--exit'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toContain('site-c goes offline');
    expect(output).toMatch(/\[site-\w\] 🚀 Starting catch-up sync for site-c/);
    const rows = [...output.matchAll(/^ {2}(site-[abc]) {2}([0-9a-f]{16}) +(\d+) {2}([0-9a-f]{16}) +(\d+)$/gm)];
    const table = rows.map((r) => r[0]).join('\n');
    expect(
      rows.map((r) => r[1]),
      output.slice(-3000),
    ).toEqual(['site-a', 'site-b', 'site-c']);
    expect(new Set(rows.map((r) => r[2])).size).toBe(1); // table digests
    expect(new Set(rows.map((r) => r[4])).size).toBe(1); // file trees
    expect(
      rows.map((r) => Number(r[3])),
      table,
    ).toEqual([5, 5, 5]); // 4 files + 1 conflict copy
    expect(
      rows.every((r) => Number(r[5]) > 0),
      table,
    ).toBe(true); // catch-up runs logged on every node
    expect(output).toContain('reads "Poofs (renamed on B, later)" on every node');
    expect(output).toMatch(/^ {2}site-a ⇄ site-b: level \(/m);
    expect(output).toMatch(/^ {2}site-a ⇄ site-c: level \(/m);
    expect(output).toMatch(/Dashboard: {2}http:\/\/127\.0\.0\.1:\d+\/admin\/sync /);
  }, 240_000);
});
