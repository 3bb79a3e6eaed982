// The peer API's wire types (snake_case), shared by the server's route schemas and this client.
import type { ApplyResult, Change } from '@catchup/changelog';

export interface PingResponse {
  node_id: string;
  node_name: string;
  version: string;
  latest_sequence: string;
  /** Newest change sequence of this node's file manifest. */
  latest_file_seq: string;
  server_time: string;
}

export interface ChangesPageResponse {
  changes: Change[];
  next_cursor: string;
  has_more: boolean;
  latest_sequence: string;
}

export type ApplyResponse = ApplyResult;

export interface ReadChangesQuery {
  after: string;
  limit: number;
  upTo?: string;
  excludeOrigin?: string;
}

export type { ManifestEntry as FileManifestEntry } from '@catchup/files';

export interface FileManifestResponse {
  path: string;
  files: import('@catchup/files').ManifestEntry[];
  next_seq: string;
  has_more: boolean;
}

export interface DownloadedFile {
  stream: import('node:stream').Readable;
  sha256: string;
  size: number;
  mtimeMs: number;
}
