// Which files are never synced (F1): temp files, editor swap files, VCS folders, our own temp files.
import picomatch from 'picomatch';

export const TEMP_FILE_PREFIX = '.catchup-tmp-';

export const DEFAULT_EXCLUDES = [
  '**/*.tmp',
  '**/*.temp',
  '**/*.swp',
  '**/*.swo',
  '**/*~',
  '**/~$*',
  '**/.DS_Store',
  '**/Thumbs.db',
  '**/.git/**',
  `**/${TEMP_FILE_PREFIX}*`,
];

export type Excluder = (relativePath: string) => boolean;

export function excluder(patterns: string[] = DEFAULT_EXCLUDES): Excluder {
  const match = picomatch(patterns, { dot: true });
  return (relativePath) => match(relativePath);
}
