// How `npm start` and `npm run worker` start Node (package.json's config), for the benchmark, the chaos
// run and the demo, which start node processes themselves and must run them as users do.
import { readFileSync } from 'node:fs';

interface NodeConfig {
  nodeHeapMb: string;
  v8Flags: string;
  mallocArenaMax: string;
}

const config = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { config: NodeConfig }).config;

/** Node's command-line flags (NODE_HEAP_MB, read from the environment as by the npm scripts, changes the heap cap). */
export function nodeProcessFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return [`--max-old-space-size=${env.NODE_HEAP_MB || config.nodeHeapMb}`, ...config.v8Flags.split(' ').filter(Boolean)];
}

/** The environment the npm scripts add (MALLOC_ARENA_MAX, unless set). */
export function nodeProcessEnv(env: NodeJS.ProcessEnv = process.env): { MALLOC_ARENA_MAX: string } {
  return { MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || config.mallocArenaMax };
}
