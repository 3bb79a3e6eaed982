// A catch-up plan's pure parts: what a folder's plan would move, and the estimate from recent runs.
import { describe, expect, it } from 'vitest';
import { estimateSeconds, summarizeFolderPlan } from '../src/catchup-preview.ts';
import type { FilePlan, FileStep } from '../src/files-plan.ts';

const side = (size: number, sha256: string | null = 'x') => ({ sha256, mtimeMs: 1, size });
const step = (kind: FileStep['kind'], local: number, remote: number): FileStep =>
  (kind === 'conflict'
    ? { file: `f-${kind}`, local: side(local), remote: side(remote), kind, winner: 'local', copy: 'f (conflict)' }
    : { file: `f-${kind}`, local: side(local), remote: side(remote), kind }) as FileStep;

describe('a folder plan summarized', () => {
  it('counts files and bytes each way, deletes on each side, conflicts (both versions move) and clashes', () => {
    const plan: FilePlan = {
      clashes: [{ name: 'a', clash: 'file here' }],
      steps: [
        step('upload', 100, 0),
        step('upload', 50, 0),
        step('download', 0, 70),
        step('delete-remote', 0, 9),
        step('delete-local', 9, 0),
        step('conflict', 10, 20),
        step('agree', 5, 5),
      ],
    };
    expect(summarizeFolderPlan('uploads', plan)).toEqual({
      directory: 'uploads',
      upload: { files: 2, bytes: 160 },
      download: { files: 1, bytes: 90 },
      delete_remote: 1,
      delete_local: 1,
      conflicts: 1,
      clashes: 1,
    });
  });
});

describe('the estimate', () => {
  it('is the pace of recent runs that moved something, nothing to move taking no time', () => {
    expect(estimateSeconds(0, 0, [])).toEqual({ seconds: 0, basis: 'nothing to move' });
    expect(estimateSeconds(10, 0, [])).toEqual({ seconds: null, basis: 'no completed run has moved anything yet' });
    const runs = [
      { changes: 1000, fileBytes: 0, seconds: 2 },
      { changes: 0, fileBytes: 0, seconds: 0.1 },
      { changes: 3000, fileBytes: 0, seconds: 6 },
    ];
    expect(estimateSeconds(8000, 0, runs)).toEqual({ seconds: 16, basis: 'the pace of the last 2 run(s) that moved something' });
    // A kilobyte of files weighs one change.
    expect(estimateSeconds(0, 2048 * 1000, runs).seconds).toBe(4);
  });
});
