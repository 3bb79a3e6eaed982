// Planning a file sync (F4) from plain data: both manifests and the bases in, steps out, no I/O.
import { describe, expect, it } from 'vitest';
import { conflictCopyName, MAX_BUNDLE_ENTRIES, type ManifestFile } from '@catchup/files';
import { BUNDLE_BYTES, planDirectory, SMALL_FILE_BYTES, transfersOf, type FileStep } from '../src/files-plan.ts';

const present = (sha256: string, mtimeMs = 1_000, size = 10): ManifestFile => ({ sha256, size, mtimeMs, deleted: false });
const tombstone = (sha256: string, mtimeMs = 1_000): ManifestFile => ({ sha256, size: 10, mtimeMs, deleted: true });

/** A plan between node-a (here) and node-b, each map given as an object path → value. */
function plan(input: {
  local?: Record<string, ManifestFile>;
  remote?: Record<string, ManifestFile>;
  base?: Record<string, string | null>;
  agreedElsewhere?: Record<string, string>;
}) {
  const map = <T>(entries: Record<string, T> = {}) => new Map(Object.entries(entries));
  return planDirectory({
    local: map(input.local),
    remote: map(input.remote),
    base: map(input.base),
    agreedElsewhere: map(input.agreedElsewhere),
    localName: 'node-a',
    remoteName: 'node-b',
  });
}

/** Each step as `path: kind` (a conflict with its winner, an agreement with what is recorded). */
const summary = (steps: FileStep[]) =>
  steps.map((s) => `${s.file}: ${s.kind === 'conflict' ? `conflict won by ${s.winner}` : s.kind === 'agree' ? `agree ${s.local.sha256}` : s.kind}`);

describe('planning a file sync', () => {
  it('on a first sync, copies what one side lacks both ways and records what both already hold', () => {
    const { steps } = plan({
      local: { 'only-here.txt': present('h1'), 'same.txt': present('s1') },
      remote: { 'only-there.txt': present('t1'), 'same.txt': present('s1', 5_000) },
    });
    expect(summary(steps)).toEqual(['only-here.txt: upload', 'only-there.txt: download', 'same.txt: agree s1']);
  });

  it('leaves out a path both sides hold as agreed, and moves the side that changed since', () => {
    const { steps } = plan({
      base: { 'kept.txt': 'k1', 'edited-here.txt': 'e1', 'edited-there.txt': 'e1' },
      local: { 'kept.txt': present('k1'), 'edited-here.txt': present('e2'), 'edited-there.txt': present('e1') },
      remote: { 'kept.txt': present('k1'), 'edited-here.txt': present('e1'), 'edited-there.txt': present('e3') },
    });
    expect(summary(steps)).toEqual(['edited-here.txt: upload', 'edited-there.txt: download']);
  });

  it('propagates a delete of an unchanged file, but an edit beats a delete on the other side', () => {
    const paths = ['deleted-here', 'deleted-there', 'deleted-here-edited-there', 'edited-here-deleted-there'];
    const { steps } = plan({
      base: Object.fromEntries(paths.map((file) => [file, 'v1'])),
      local: {
        'deleted-here': tombstone('v1'),
        'deleted-there': present('v1'),
        'deleted-here-edited-there': tombstone('v1'),
        'edited-here-deleted-there': present('v2'),
      },
      remote: { 'deleted-here': present('v1'), 'deleted-here-edited-there': present('v2'), 'edited-here-deleted-there': tombstone('v1') },
    });
    expect(summary(steps)).toEqual([
      'deleted-here: delete-remote',
      'deleted-here-edited-there: download',
      'deleted-there: delete-local',
      'edited-here-deleted-there: upload',
    ]);
  });

  it('records a change both sides made alike, and a file deleted on both, without moving anything', () => {
    const { steps } = plan({
      base: { 'alike.txt': 'old', 'gone-on-both.txt': 'old', 'gone-as-agreed.txt': null },
      local: { 'alike.txt': present('new', 2_000), 'gone-on-both.txt': tombstone('old') },
      remote: { 'alike.txt': present('new', 3_000), 'gone-as-agreed.txt': tombstone('old') },
    });
    expect(summary(steps)).toEqual(['alike.txt: agree new', 'gone-on-both.txt: agree null']);
  });

  it('settles a change on both sides as a conflict won by the newer, the copy named after the losing version', () => {
    const { steps } = plan({
      base: { 'newer-here.json': 'v1', 'newer-there.json': 'v1', 'same-mtime.json': 'v1' },
      local: { 'newer-here.json': present('here', 9_000), 'newer-there.json': present('here', 1_000), 'same-mtime.json': present('here', 5_000) },
      remote: { 'newer-here.json': present('there', 2_000), 'newer-there.json': present('there', 8_000), 'same-mtime.json': present('there', 5_000) },
    });
    expect(summary(steps)).toEqual([
      'newer-here.json: conflict won by local',
      'newer-there.json: conflict won by remote',
      // Equal mtimes: the higher node name wins, so both nodes decide alike.
      'same-mtime.json: conflict won by remote',
    ]);
    expect(steps.map((s) => s.kind === 'conflict' && s.copy)).toEqual([
      conflictCopyName('newer-here.json', new Date(2_000), 'there'),
      conflictCopyName('newer-there.json', new Date(1_000), 'here'),
      conflictCopyName('same-mtime.json', new Date(5_000), 'here'),
    ]);
  });

  describe('with a base agreed with another peer only', () => {
    it('takes a newer version from the peer over one this node received from a third node, without a copy', () => {
      const { steps } = plan({
        agreedElsewhere: { 'relayed.txt': 'from-c' },
        local: { 'relayed.txt': present('from-c', 1_000) },
        remote: { 'relayed.txt': present('edited-on-b', 2_000) },
      });
      expect(summary(steps)).toEqual(['relayed.txt: download']);
    });

    it('never puts an older version over a newer one: both are kept, won by the newer', () => {
      const { steps } = plan({
        agreedElsewhere: { 'mine.txt': 'newest-write', 'theirs.txt': 'their-write' },
        local: { 'mine.txt': present('newest-write', 53_000), 'theirs.txt': present('older', 30_000) },
        remote: { 'mine.txt': present('older', 30_000), 'theirs.txt': present('their-write', 53_000) },
      });
      expect(summary(steps)).toEqual(['mine.txt: conflict won by local', 'theirs.txt: conflict won by remote']);
    });

    it('counts only for a path present on both sides, and gives way to a base agreed with this peer', () => {
      const { steps } = plan({
        base: { 'synced-before.txt': 'agreed-with-b' },
        agreedElsewhere: { 'here-only.txt': 'h1', 'there-only.txt': 't1', 'synced-before.txt': 'agreed-with-c' },
        local: { 'here-only.txt': present('h1'), 'synced-before.txt': present('agreed-with-b', 1_000) },
        remote: { 'there-only.txt': present('t1'), 'synced-before.txt': present('edited-on-b', 500) },
      });
      // Without a base, each file present on one side only is copied over (a union); the older edit on B
      // comes in because B changed it since this node agreed with B.
      expect(summary(steps)).toEqual(['here-only.txt: upload', 'synced-before.txt: download', 'there-only.txt: download']);
    });
  });

  it('leaves a name that is a file on one side and a folder on the other alone, with everything under it', () => {
    const { clashes, steps } = plan({
      local: { photos: present('f1'), 'docs/a.txt': present('d1'), 'beside.txt': present('b1'), 'was-a-file': tombstone('w1') },
      remote: { 'photos/254.jpg': present('p1'), docs: present('d0'), 'was-a-file/inner.txt': present('i1') },
    });
    expect(clashes).toEqual([
      { name: 'docs', clash: 'folder here' },
      { name: 'photos', clash: 'file here' },
    ]);
    // A tombstone is no file: the folder on the peer comes in (and the tombstone is recorded as agreed).
    expect(summary(steps)).toEqual(['beside.txt: upload', 'was-a-file: agree null', 'was-a-file/inner.txt: download']);
  });
});

describe('the order of transfers', () => {
  const upload = (file: string, size: number): FileStep => ({
    file,
    kind: 'upload',
    local: { sha256: file, mtimeMs: 1, size },
    remote: { sha256: null, mtimeMs: 0, size: 0 },
  });
  const shape = (steps: FileStep[]) => transfersOf(steps).map((t) => ('bundle' in t ? t.bundle.map((s) => s.file) : t.step.file));

  it('bundles small uploads, up to BUNDLE_BYTES each, and sends every other step on its own, the largest first', () => {
    const perBundle = BUNDLE_BYTES / SMALL_FILE_BYTES;
    const small = Array.from({ length: perBundle + 1 }, (_, i) => upload(`s${i}`, SMALL_FILE_BYTES));
    const download: FileStep = { ...upload('d', 1), kind: 'download', remote: { sha256: 'd', mtimeMs: 1, size: 5 } };
    const deletion: FileStep = { ...upload('gone', 1), kind: 'delete-remote', remote: { sha256: 'gone', mtimeMs: 1, size: 9_000_000 } };
    const steps = [...small.slice(0, 2), deletion, download, upload('big', SMALL_FILE_BYTES + 1), ...small.slice(2), upload('huge', 3 * BUNDLE_BYTES)];
    expect(shape(steps)).toEqual(['huge', small.slice(0, perBundle).map((s) => s.file), 'big', [`s${perBundle}`], 'd', 'gone']);
  });

  it('puts at most MAX_BUNDLE_ENTRIES files in a bundle', () => {
    const steps = Array.from({ length: MAX_BUNDLE_ENTRIES + 1 }, (_, i) => upload(`f${i}`, 0));
    expect(transfersOf(steps).map((t) => ('bundle' in t ? t.bundle.length : 1))).toEqual([MAX_BUNDLE_ENTRIES, 1]);
  });
});
