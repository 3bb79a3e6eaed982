import { describe, expect, it } from 'vitest';
import { folderHeldThrough, heldThrough } from '../src/file-positions.ts';

const sha = (c: string) => c.repeat(64);
const entry = (change_seq: string, path: string, sha256: string, deleted = false) => ({ change_seq, path, sha256, deleted });

describe('how far a side’s file changes are held by the other after a sync', () => {
  const base = new Map<string, string | null>([
    ['a.jpg', sha('a')],
    ['b.jpg', sha('b')],
    ['gone.jpg', null],
  ]);

  it('moves past every change both sides agree on, to where the page is complete', () => {
    const page = {
      files: [entry('11', 'a.jpg', sha('a')), entry('12', 'gone.jpg', sha('0'), true), entry('14', 'b.jpg', sha('b'))],
      next_seq: '14',
      has_more: false,
      latest_seq: '17',
    };
    // 15–17 are changes of other folders (not synced with this peer): nothing of this folder is below them.
    expect(folderHeldThrough(10n, page, base)).toBe(17n);
  });

  it('stops before the first change not agreed on: another version, a path never agreed, a file deleted on one side only', () => {
    const page = (files: ReturnType<typeof entry>[]) => ({ files, next_seq: files.at(-1)!.change_seq, has_more: false, latest_seq: '20' });
    expect(folderHeldThrough(10n, page([entry('11', 'a.jpg', sha('a')), entry('13', 'b.jpg', sha('c')), entry('14', 'a.jpg', sha('a'))]), base)).toBe(12n);
    expect(folderHeldThrough(10n, page([entry('12', 'new.jpg', sha('n'))]), base)).toBe(11n);
    expect(folderHeldThrough(10n, page([entry('15', 'b.jpg', sha('b'), true)]), base)).toBe(14n);
  });

  it('never goes below the plan’s position', () => {
    expect(folderHeldThrough(10n, { files: [entry('11', 'x.jpg', sha('x'))], next_seq: '11', has_more: false, latest_seq: '11' }, base)).toBe(10n);
    expect(folderHeldThrough(10n, { files: [], next_seq: '10', has_more: false, latest_seq: '9' }, base)).toBe(10n);
  });

  it('a full page is complete only up to its last change', () => {
    const page = { files: [entry('11', 'a.jpg', sha('a')), entry('12', 'b.jpg', sha('b'))], next_seq: '12', has_more: true, latest_seq: '90' };
    expect(folderHeldThrough(10n, page, base)).toBe(12n);
  });

  it('keeps the plan’s position for a peer that does not say how far its page is complete (an older version)', () => {
    expect(folderHeldThrough(10n, { files: [entry('11', 'a.jpg', sha('a'))], next_seq: '11', has_more: false }, base)).toBe(10n);
  });

  it('across folders, holds through the lowest of them (sequences are shared by all folders)', () => {
    expect(heldThrough(10n, [17n, 12n, 30n])).toBe(12n);
    expect(heldThrough(10n, [])).toBe(10n);
  });
});
