// Benchmark: catch-up over a slow link (issue #19) — the nodes' traffic, the logical replication
// subscription's connection and the rsync client's all cross one throttling proxy on loopback with a set
// bandwidth per direction and round-trip time, and the bytes each way are counted (../shared/ANCHORS.md,
// Slow links).
import { openThrottledLink, type LinkBytes, type ThrottledLink } from '@catchup/testing/throttled-link';
import { logicalCatchup, ourCatchup, printCpu } from './catchup.ts';
import { fileCatchup } from './files.ts';
import { logicalAvailable } from './logical-replication.ts';
import { printTable } from './report.ts';

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

/** Seconds the busier direction's bytes take at the link's bandwidth alone: the floor the link sets. */
const wireSeconds = (link: ThrottledLink, wire: LinkBytes) => (Math.max(wire.aToB, wire.bToA) * 8) / (link.mbit * 1e6);

function row(link: ThrottledLink, path: string, seconds: number, wire: LinkBytes | undefined): string[] {
  return [path, seconds.toFixed(2), wire ? mb(wire.aToB) : '-', wire ? mb(wire.bToA) : '-', wire ? wireSeconds(link, wire).toFixed(2) : '-'];
}

const HEADERS = ['path', 'seconds', 'MB A→B', 'MB B→A', 'link floor s'];

async function databaseOverLink(link: ThrottledLink, size: number): Promise<void> {
  console.log(`\n### Database: catch-up of ${size.toLocaleString('en')} changes made on A while B was offline (${size.toLocaleString('en')}-row baseline)`);
  console.log(
    'A and B each an API and a worker process, each registered with the other at the link; the subscription of logical replication ' +
      'connects to its publisher through the link; the databases stay local.',
  );
  const ours = await ourCatchup(size, { link });
  const rows = [row(link, `catch-up (COMPRESSION_LEVEL=${process.env.COMPRESSION_LEVEL ?? '3, the default'})`, ours.seconds, ours.wire)];
  const uncompressed = process.env.BENCH_LINK_UNCOMPRESSED !== '0' ? await ourCatchup(size, { link, env: { COMPRESSION_LEVEL: '0' } }) : undefined;
  if (uncompressed) rows.push(row(link, 'catch-up, COMPRESSION_LEVEL=0', uncompressed.seconds, uncompressed.wire));
  const logical = logicalAvailable() ? await logicalCatchup(size, link) : undefined;
  if (logical) rows.push(row(link, 'PostgreSQL logical replication', logical.seconds, logical.wire));
  printTable(HEADERS, rows);
  if (logical) {
    console.log(`ratio ours / logical replication over the link: ${(ours.seconds / logical.seconds).toFixed(2)} (target ≤ 0.5); ${logical.note}`);
  } else {
    console.log('logical replication baseline skipped: needs root and PostgreSQL 15 binaries');
  }
  if (uncompressed?.wire && ours.wire) {
    console.log(
      `compression: ${mb(uncompressed.wire.aToB + uncompressed.wire.bToA)} → ${mb(ours.wire.aToB + ours.wire.bToA)} MB on the wire ` +
        `(${((uncompressed.wire.aToB + uncompressed.wire.bToA) / (ours.wire.aToB + ours.wire.bToA)).toFixed(1)}× fewer), ` +
        `${uncompressed.seconds.toFixed(2)} → ${ours.seconds.toFixed(2)} s (BENCH_LINK_UNCOMPRESSED=0 skips the uncompressed run)`,
    );
  }
  console.log(
    'The generated rows repeat themselves (notes padded with dots, few distinct values), so compression gains here are ' +
      'an upper bound for real scouting notes; logical replication sends its rows uncompressed either way.',
  );
  printCpu(ours);
}

async function filesOverLink(link: ThrottledLink, count: number): Promise<void> {
  console.log(`\n### Files: ${count} files (90% 2–50 KB, 10% 1–5 MB, random bytes: photos), then 200 modified and 100 new on A`);
  const { ours, rsync } = await fileCatchup(count, link);
  const rows = [row(link, 'Catch-up Sync file catch-up (scan + compare + transfer)', ours.seconds, ours.wire)];
  if (rsync) rows.push(row(link, 'rsync -a --checksum -z to a daemon through the link', rsync.seconds, rsync.wire));
  printTable(HEADERS, rows);
  if (rsync) console.log(`ratio ours / rsync -z over the link: ${(ours.seconds / rsync.seconds).toFixed(2)} (target ≤ 1.0)`);
  else console.log('rsync baseline skipped: rsync could not be installed');
}

export async function benchLink(): Promise<void> {
  const mbit = Number(process.env.BENCH_LINK_MBIT ?? 20);
  const rttMs = Number(process.env.BENCH_LINK_RTT_MS ?? 40);
  const size = Number(process.env.BENCH_LINK_CHANGES ?? 100_000);
  const count = Number(process.env.BENCH_LINK_FILES ?? 2000);
  console.log(`\n## Slow link: ${mbit} Mbit/s each way, ${rttMs} ms round trip (BENCH_LINK_MBIT, BENCH_LINK_RTT_MS)`);
  console.log(
    'A throttling TCP proxy on loopback: one bandwidth per direction shared by all of a contender’s connections, half the ' +
      'round trip added each way; MB are payload bytes across it while timed (A→B: from the side with the changes). ' +
      '"link floor s": the busier direction’s bytes at the bandwidth alone.',
  );
  const link = await openThrottledLink({ mbit, rttMs });
  try {
    if (size > 0) await databaseOverLink(link, size);
    if (count > 0) await filesOverLink(link, count);
  } finally {
    await link.close();
  }
}
