export { FILE_DIRECTORIES, isFileDirectory, directoryRoot, type FileDirectory } from './roots.ts';
export { checkRelativePath, confinePath, PathRefusedError } from './confine.ts';
export { DEFAULT_EXCLUDES, TEMP_FILE_PREFIX, excluder, type Excluder } from './exclude.ts';
export { sha256File } from './hash.ts';
export { scanDirectory, type ScanOptions, type ScanStats } from './scanner.ts';
export { readManifest, type ManifestEntry, type ManifestPage, type ManifestQuery } from './manifest.ts';
