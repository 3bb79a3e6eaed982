export { FILE_DIRECTORIES, directoryRoot, type FileDirectory } from './roots.ts';
export { checkRelativePath, confinedFolders, confinePath, PathRefusedError, type ConfinedFolders } from './confine.ts';
export { DEFAULT_EXCLUDES, excluder, type Excluder } from './exclude.ts';
export { sha256File } from './hash.ts';
export { scanDirectory, scanDirectoryUnlessScannedSince, STALE_TEMP_FILE_MS } from './scanner.ts';
export { latestFileSeq, MANIFEST_PAGE_MAX, readManifest, type ManifestPage } from './manifest.ts';
export { writeVerified, removeFile, isPlausibleMtime, MTIME_RULE, TransferRejectedError } from './write.ts';
export { bundledBytes, encodeBundle, receiveBundle, MAX_BUNDLE_ENTRIES, type BundleEntry } from './bundle.ts';
export { recordFile, recordFiles, recordDeletion, manifestMap, type Manifest, type ManifestFile } from './record.ts';
export { AgreedBase, readBase, readBasesElsewhere, type Base } from './base.ts';
export { decide, conflictCopyName, clashCovering, fileFolderClashes, type Clash, type FileAction, type Side } from './decide.ts';
export { openForSending, blockListForSending, openBlocksForSending, sendingStream } from './serve.ts';
export {
  BLOCK_BYTES,
  DELTA_MIN_BYTES,
  deltaWorthwhile,
  planBlocks,
  senderRanges,
  senderBytes,
  rangesText,
  parseRanges,
  BLOCK_RANGES_TEXT,
  deltaInstructions,
  deltaBodyBytes,
  copyRecord,
  literalHeader,
  type BlockList,
  type BlockSource,
  type DeltaInstruction,
} from './blocks.ts';
export { readBlockList } from './block-list.ts';
export { readAt } from './read-at.ts';
export { assembleDownload, receiveDelta, type DeltaDownload, type DeltaAnnounced } from './delta.ts';
export { ChangedSinceComparedError, COMPARED_TEXT, COMPARED_TEXT_RULE, comparedText, parseComparedText, type ComparedState } from './as-compared.ts';
export { pruneFileTombstones } from './prune.ts';
export { manifestDigest, type ManifestDigest } from './manifest-digest.ts';
export { listConflictCopies, originalOfConflictCopy, type FileConflict, type FileVersionInfo } from './conflicts.ts';
export { settleInParallel, throwFirstFailure } from './in-parallel.ts';
export { isRemoteFileSystem, QuickFs, quickFsFor } from './quick-fs.ts';
