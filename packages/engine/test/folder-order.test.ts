import { describe, expect, it } from 'vitest';
import { largestFolderFirst } from '../src/files.ts';

describe('the order a catch-up starts its folders in', () => {
  it('starts uploads first and keeps the others in their order', () => {
    expect(largestFolderFirst(['instance', 'config', 'uploads'])).toEqual(['uploads', 'instance', 'config']);
    expect(largestFolderFirst(['config', 'uploads'])).toEqual(['uploads', 'config']);
  });

  it('leaves a catch-up without uploads as it is', () => {
    expect(largestFolderFirst(['instance', 'config'])).toEqual(['instance', 'config']);
    expect(largestFolderFirst([])).toEqual([]);
  });
});
