// A page of a peer's log read to be applied here: its changes checked, their row images kept as the JSON
// text they came in (scanChangesDocument), as the peer API's own batch route reads them.
import type { z } from 'zod';
import { checkChanges, scanChangesDocument, type IncomingChange } from '@catchup/changelog';
import { invalidAnswer } from './answer.ts';
import { PeerError } from './errors.ts';
import { changesPagePositionSchema } from './types.ts';

export type ChangesToApply = z.infer<typeof changesPagePositionSchema> & { changes: IncomingChange[] };

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
  const position = changesPagePositionSchema.safeParse(fields);
  if (!position.success) throw invalidAnswer(from, position.error);
  return { changes, ...position.data };
}
