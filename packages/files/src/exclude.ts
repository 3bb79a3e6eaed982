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

/**
 * Whether a path is excluded, as picomatch decides for the list of patterns (`dot`: names starting with a
 * dot match too). Its regular expressions are joined into one: a scan asks for every file and folder,
 * and picomatch's matcher for a list builds a result object per pattern per path.
 */
export function excluder(patterns: string[] = DEFAULT_EXCLUDES): Excluder {
  if (patterns.length === 0) return () => false;
  // picomatch matches a path equal to the pattern itself, then tests its anchored regular expression.
  const literals = new Set(patterns);
  const anyPattern = new RegExp(patterns.map((p) => `(?:${picomatch.makeRe(p, { dot: true }).source})`).join('|'));
  return (relativePath) => relativePath !== '' && (literals.has(relativePath) || anyPattern.test(relativePath));
}
