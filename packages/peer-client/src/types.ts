// The peer API's wire types (snake_case), shared by the server's route schemas and this client.
import type { ApplyResult, Change } from '@catchup/changelog';

export interface PingResponse {
  node_id: string;
  node_name: string;
  version: string;
  latest_sequence: string;
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
