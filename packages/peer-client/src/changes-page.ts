// A page of a peer's log read to be applied here: its changes checked, their row images kept as the JSON
// text they came in (scanChangesDocument), as the peer API's own batch route reads them.
import { checkChanges, scanChangesDocument, type IncomingChange } from '@catchup/changelog';
import { PeerError } from './errors.ts';

export interface ChangesToApply {
  changes: IncomingChange[];
  next_cursor: string;
  has_more: boolean;
  latest_sequence: string;
}

const POSITION = /^\d{1,19}$/;

/**
 * Reads the page's text. A page the scanner does not take is parsed the ordinary way and checked change by
 * change: a faulty change throws BatchRejectedError (the same page would fail again), a text that is not
 * a page a PeerError (server_error: the peer may answer properly next time).
 */
export function changesToApply(text: string, from: string): ChangesToApply {
  const notAPage = (why: string) => new PeerError('server_error', `${from} sent a changes page ${why}`);
  let changes: IncomingChange[];
  let fields: Record<string, unknown>;
  const scanned = scanChangesDocument(text);
  if (scanned) ({ changes, fields } = scanned);
  else {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw notAPage('that is not JSON');
    }
    const { changes: raw, ...rest } = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
    if (!Array.isArray(raw)) throw notAPage('without a changes array');
    changes = checkChanges(raw);
    fields = rest;
  }
  const { next_cursor, has_more, latest_sequence } = fields;
  if (typeof next_cursor !== 'string' || !POSITION.test(next_cursor) || typeof latest_sequence !== 'string' || !POSITION.test(latest_sequence) || typeof has_more !== 'boolean') {
    throw notAPage('without next_cursor, has_more and latest_sequence');
  }
  return { changes, next_cursor, has_more, latest_sequence };
}
