// A file sync decides from both manifests, then acts; the application may write a file in between. A
// local file is replaced or removed only while it is still what the decision saw, so that a write made
// after the comparison is never overwritten unseen (F4): it is left for the next sync, which sees it.
import { lstat } from 'node:fs/promises';

/** What a path held when the decision was made: a file of this size and mtime, or nothing. */
export type ComparedState = { size: number; mtimeMs: number } | 'absent';

/** What the path holds now (lstat), in the same terms. */
export type CurrentState = { size: number; mtimeMs: number; isFile: boolean } | 'absent';

/** Whether the path still holds what the decision saw (mtimes compared in whole milliseconds, as manifests keep them). */
export function unchangedSince(compared: ComparedState, current: CurrentState): boolean {
  if (compared === 'absent' || current === 'absent') return compared === current;
  return current.isFile && current.size === compared.size && Math.floor(current.mtimeMs) === Math.floor(compared.mtimeMs);
}

export async function currentState(target: string): Promise<CurrentState> {
  try {
    const info = await lstat(target);
    return { size: info.size, mtimeMs: info.mtimeMs, isFile: info.isFile() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

/** The file changed here after it was compared with the peer; nothing was replaced or removed. */
export class ChangedSinceComparedError extends Error {
  constructor(relative: string) {
    super(`${relative}: changed here since it was compared with the peer; left as it is for the next sync`);
    this.name = 'ChangedSinceComparedError';
  }
}

/** Throws ChangedSinceComparedError unless `target` still holds what the decision saw. */
export async function assertUnchangedSince(target: string, relative: string, compared: ComparedState | undefined): Promise<void> {
  if (compared !== undefined && !unchangedSince(compared, await currentState(target))) throw new ChangedSinceComparedError(relative);
}

/** A ComparedState as a peer announces it (query parameter `replaces`, bundle header field). */
export const COMPARED_TEXT = /^(?:absent|\d{1,15}:\d{1,15})$/;
export const COMPARED_TEXT_RULE = "'absent' or '<size>:<mtime_ms>' of the version the sender compared";

export const comparedText = (state: ComparedState): string => (state === 'absent' ? 'absent' : `${state.size}:${Math.floor(state.mtimeMs)}`);

export function parseComparedText(text: string): ComparedState {
  if (text === 'absent') return 'absent';
  const [size, mtimeMs] = text.split(':').map(Number) as [number, number];
  return { size, mtimeMs };
}
