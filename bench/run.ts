// npm run bench — performance figures with their baselines measured in the same run (see ../shared/ANCHORS.md).
import { benchApply } from './apply.ts';
import { benchBaseline } from './baseline.ts';
import { benchCatchup } from './catchup.ts';
import { benchEpisode } from './episode.ts';
import { benchFiles } from './files.ts';
import { benchLink } from './link.ts';
import { peakRssMb } from './report.ts';
import { benchStatus } from './status.ts';
import { benchVerify } from './verify.ts';

const parts = new Set((process.env.BENCH_PARTS ?? 'apply,catchup,files,baseline,link,status,verify,episode').split(','));
console.log(`# Catch-up Sync benchmark (node ${process.version}, ${new Date().toISOString()})`);
if (parts.has('apply')) await benchApply();
if (parts.has('catchup')) await benchCatchup();
if (parts.has('files')) await benchFiles();
if (parts.has('baseline')) await benchBaseline();
if (parts.has('link')) await benchLink();
if (parts.has('status')) await benchStatus();
if (parts.has('verify')) await benchVerify();
if (parts.has('episode')) await benchEpisode();
console.log(`\npeak RSS of the benchmark process: ${peakRssMb()} MB`);
