// Path confinement (F5): a relative path from a peer or a request may only name a place inside its root.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { QuickFs } from './quick-fs.ts';

export class PathRefusedError extends Error {
  constructor(relative: string, reason: string) {
    super(`path ${JSON.stringify(relative)} refused: ${reason}`);
    this.name = 'PathRefusedError';
  }
}

/** Longest name of one file or folder most file systems take (NAME_MAX, in bytes). */
const MAX_NAME_BYTES = 255;

/** Checks the text of a relative path; returns it normalised to forward slashes. */
export function checkRelativePath(relative: string): string {
  if (typeof relative !== 'string' || relative.length === 0) throw new PathRefusedError(String(relative), 'empty');
  if (relative.length > 1024) throw new PathRefusedError(relative.slice(0, 40), 'longer than 1024 characters');
  if (relative.includes('\0')) throw new PathRefusedError(relative, 'contains a NUL byte');
  if (relative.includes('\\')) throw new PathRefusedError(relative, 'contains a backslash');
  if (relative.startsWith('/') || /^[A-Za-z]:/.test(relative)) throw new PathRefusedError(relative, 'is absolute');
  const segments = relative.split('/');
  if (segments.some((s) => s === '..')) throw new PathRefusedError(relative, 'climbs out with ..');
  if (segments.some((s) => s === '' || s === '.')) throw new PathRefusedError(relative, 'has an empty or "." segment');
  if (segments.some((s) => Buffer.byteLength(s) > MAX_NAME_BYTES)) throw new PathRefusedError(relative, `has a name longer than ${MAX_NAME_BYTES} bytes`);
  return relative;
}

const inside = (root: string, candidate: string) => candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/** The root's real path, or null when it does not exist (yet). */
async function realRootOf(root: string): Promise<string | null> {
  try {
    return await realpath(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * What confining many paths under one root (a bundle's files) resolves only once: the root's real path,
 * and the folders already found to lead inside it; `quick` looks at names (lstat).
 */
export interface ConfinedFolders {
  realRoot?: Promise<string | null>;
  inside: Set<string>;
  quick: QuickFs;
}

export const confinedFolders = (quick: QuickFs): ConfinedFolders => ({ inside: new Set(), quick });

/**
 * The absolute path of `relative` under `root`, after checking that neither the text nor any symlink on
 * the way leads outside the root. The file itself need not exist (uploads create it), nor the root: a
 * root not on disk holds nothing, so no symlink under it leads out, and the path names an absent file
 * (writers create the root first). With `known` (many paths under one root), see confineByNames.
 */
export async function confinePath(root: string, relative: string, known?: ConfinedFolders): Promise<string> {
  checkRelativePath(relative);
  if (known && !known.realRoot) known.realRoot = realRootOf(root);
  const realRoot = await (known?.realRoot ?? realRootOf(root));
  if (realRoot === null) return path.join(path.resolve(root), relative);
  const target = path.join(realRoot, relative);
  if (known) {
    await confineByNames(realRoot, target, relative, known);
    return target;
  }
  // Resolve the deepest existing ancestor (or the file itself): a symlink anywhere must stay inside.
  let existing = target;
  for (;;) {
    try {
      const resolved = await realpath(existing);
      if (!inside(realRoot, resolved)) throw new PathRefusedError(relative, 'leads outside its folder through a symlink');
      break;
    } catch (err) {
      if (err instanceof PathRefusedError) throw err;
      const parent = path.dirname(existing);
      if (parent === existing || !inside(realRoot, parent)) break;
      existing = parent;
    }
  }
  return target;
}

/**
 * confinePath's check for one of many paths under one root: the path's names are looked at one by one
 * (lstat, through `quick`), from the file up to a folder known to lead inside. A name that is no symlink
 * leads where its folder does, so only a symlink is resolved (one that resolves nowhere leads nowhere,
 * as for confinePath); the real folders on the way are remembered as inside.
 */
async function confineByNames(realRoot: string, target: string, relative: string, known: ConfinedFolders): Promise<void> {
  known.inside.add(realRoot);
  const folders: string[] = [];
  for (let name = target; !known.inside.has(name) && name !== path.dirname(name); name = path.dirname(name)) {
    const info = await known.quick.lstat(name).catch(() => null);
    if (info?.isSymbolicLink()) {
      const resolved = await realpath(name).catch(() => null);
      if (resolved === null) continue;
      if (!inside(realRoot, resolved)) throw new PathRefusedError(relative, 'leads outside its folder through a symlink');
      break;
    }
    if (info?.isDirectory()) folders.push(name);
  }
  for (const folder of folders) known.inside.add(folder);
}
