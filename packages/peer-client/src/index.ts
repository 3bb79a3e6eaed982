export { PeerClient, peerBaseUrl, type PeerAddress, type PeerClientOptions } from './client.ts';
export { PeerError, type PeerErrorKind } from './errors.ts';
export type { ApplyResponse, ChangesPageResponse, DownloadedFile, FileManifestEntry, FileManifestResponse, PingResponse, ReadChangesQuery } from './types.ts';
export { changesToApply, type ChangesToApply } from './changes-page.ts';
