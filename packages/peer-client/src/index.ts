export { PeerClient, type PeerAddress, type PeerClientOptions } from './client.ts';
export { PeerError, type PeerErrorKind } from './errors.ts';
export { logStreamResponseSchema, type LogStreamResponse } from './log-stream.ts';
export {
  applyResponseSchema,
  changesPageResponseSchema,
  changesSummaryResponseSchema,
  digestResponseSchema,
  deleteFileResponseSchema,
  fileBlocksResponseSchema,
  fileManifestEntrySchema,
  fileManifestResponseSchema,
  pingResponseSchema,
  type ApplyResponse,
  type ChangesPageResponse,
  type ChangesSummaryResponse,
  type DigestQuery,
  type DigestResponse,
  type DeleteFileResponse,
  type FileBlocksResponse,
  type DownloadedFile,
  type FileManifestEntry,
  type FileManifestResponse,
  type PingResponse,
  type FetchChangesQuery,
} from './types.ts';
export {
  MAX_IDENTITIES,
  groupIdentities,
  groupStamped,
  heldRequestSchema,
  heldResponseSchema,
  identitiesPageResponseSchema,
  selectRequestSchema,
  ungroupIdentities,
  ungroupStamped,
  type HeldRequest,
  type HeldResponse,
  type IdentitiesPageResponse,
  type SelectRequest,
} from './held.ts';
export { changesToApply, type ChangesToApply } from './changes-page.ts';
export { normalizeFingerprint } from './tls.ts';
export { CONTENT_ENCODINGS, contentEncodingsSchema, decodeAnswer, compressBody, zlibOptions, zstdDecodeOptions, type ContentEncoding } from './compression.ts';
