import path from 'node:path';

/** The synced folders of a node, each rooted in DATA_DIR (F1). */
export const FILE_DIRECTORIES = ['instance', 'config', 'uploads'] as const;
export type FileDirectory = (typeof FILE_DIRECTORIES)[number];

export function directoryRoot(dataDir: string, directory: FileDirectory): string {
  return path.join(path.resolve(dataDir), directory);
}
