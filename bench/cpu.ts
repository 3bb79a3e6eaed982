// CPU time of processes, from /proc: where a catch-up's time goes when every core is busy.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock tick (USER_HZ), the unit of /proc/<pid>/stat's times; 100 on every common build. */
const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  /** utime + stime, in seconds. */
  own: number;
  /** cutime + cstime: waited-for children that have exited. */
  children: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name is in parentheses and may hold spaces: fields count from after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(fields[i - 3]);
  return { ppid: n(4), own: (n(14) + n(15)) / TICKS_PER_SECOND, children: (n(16) + n(17)) / TICKS_PER_SECOND };
}

/** CPU seconds a process has used so far. */
export const processCpuSeconds = (pid: number) => readStat(pid)?.own ?? 0;

/** The postmaster of the PostgreSQL instance a backend belongs to. */
export const postmasterOf = (backendPid: number) => readStat(backendPid)?.ppid ?? 0;

/**
 * CPU seconds used so far by a PostgreSQL instance: the postmaster, its live processes, and the ones
 * that have exited (which the postmaster has waited for).
 */
export function instanceCpuSeconds(postmasterPid: number): number {
  const postmaster = readStat(postmasterPid);
  if (!postmaster) return 0;
  let total = postmaster.own + postmaster.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === postmasterPid) total += stat.own;
  }
  return total;
}
