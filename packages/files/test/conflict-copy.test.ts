import { describe, expect, it } from 'vitest';
import { conflictCopyName } from '../src/decide.ts';

describe('conflictCopyName', () => {
  const at = new Date('2026-11-26T14:30:00.123Z');
  const sha = `3f9a1c07${'e'.repeat(56)}`;

  it('names the copy after the kept version alone: its mtime and the start of its sha256', () => {
    expect(conflictCopyName('photos/robot.jpg', at, sha)).toBe('photos/robot.sync-conflict-20261126T143000Z-3f9a1c07.jpg');
    expect(conflictCopyName('notes', at, sha)).toBe('notes.sync-conflict-20261126T143000Z-3f9a1c07');
    expect(conflictCopyName('.env', at, sha)).toBe('.env.sync-conflict-20261126T143000Z-3f9a1c07');
  });

  it('gives two versions written in the same second two names, and one version one name wherever it is settled', () => {
    const other = `a0b1c2d3${'f'.repeat(56)}`;
    expect(conflictCopyName('f5.txt', at, sha)).not.toBe(conflictCopyName('f5.txt', new Date(at.getTime() + 500), other));
    expect(conflictCopyName('f5.txt', at, sha)).toBe(conflictCopyName('f5.txt', new Date(at.getTime()), sha));
  });
});
