// The per-path decision of a file sync (F4), without I/O.
import { describe, expect, it } from 'vitest';
import { decide, type Side } from '../src/decide.ts';

const side = (sha256: string | null, mtimeMs: number): Side => ({ sha256, mtimeMs, size: 1 });

describe('decide', () => {
  it('moves the side that changed since the base, and settles a change on both sides as a conflict won by the newer', () => {
    expect(decide(side('new', 2), side('old', 1), 'old', 'a', 'b')).toEqual({ kind: 'upload' });
    expect(decide(side('old', 1), side('new', 2), 'old', 'a', 'b')).toEqual({ kind: 'download' });
    expect(decide(side(null, 0), side('old', 1), 'old', 'a', 'b')).toEqual({ kind: 'delete-remote' });
    expect(decide(side('x', 3), side('y', 2), 'old', 'a', 'b')).toEqual({ kind: 'conflict', winner: 'local' });
    expect(decide(side('x', 2), side('x', 2), 'old', 'a', 'b')).toEqual({ kind: 'none' });
  });

  it('with a base agreed with another peer, never overwrites a newer version: both are kept instead', () => {
    // This node wrote `mine` (newest) and gave it to a third node; the peer holds an older version.
    expect(decide(side('mine', 53_000), side('older', 30_000), 'mine', 'b', 'a', true)).toEqual({ kind: 'conflict', winner: 'local' });
    expect(decide(side('older', 30_000), side('theirs', 53_000), 'theirs', 'b', 'a', true)).toEqual({ kind: 'conflict', winner: 'remote' });
    // A version received from a third node and edited since on the peer: the newer edit comes in, no copy.
    expect(decide(side('received', 30_000), side('edited', 53_000), 'received', 'b', 'a', true)).toEqual({ kind: 'download' });
    expect(decide(side('edited', 53_000), side('received', 30_000), 'received', 'b', 'a', true)).toEqual({ kind: 'upload' });
  });
});
