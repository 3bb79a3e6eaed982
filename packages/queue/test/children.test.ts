// A parent's children are grouped by job name read from their keys (prefix:queue:id), never guessed.
import { describe, expect, it } from 'vitest';
import { childJobName, groupByChildJob } from '../src/children.ts';

describe("a child's job name", () => {
  it('is read from the queue in its key', () => {
    expect(childJobName('node-a:batch-send:12')).toBe('batch-send');
    expect(childJobName('node-a:batch-receive:3')).toBe('batch-receive');
    expect(childJobName('node-a:file-sync:9')).toBe('file-sync');
  });

  it('a prefix may hold colons', () => {
    expect(childJobName('catchup:test:a:file-sync:1')).toBe('file-sync');
  });

  it('a key of no known queue names no job', () => {
    expect(childJobName('node-a:elsewhere:1')).toBeUndefined();
    expect(childJobName('nonsense')).toBeUndefined();
  });
});

describe("a catch-up's children, grouped", () => {
  it('puts each value under its job name, every child name present', () => {
    expect(groupByChildJob('catchup', { 'p:batch-send:1': 'a', 'p:batch-send:2': 'b', 'p:file-sync:3': 'c' })).toEqual({
      'batch-send': ['a', 'b'],
      'batch-receive': [],
      'file-sync': ['c'],
    });
  });

  it('refuses a key that is not one of the parent’s child jobs', () => {
    expect(() => groupByChildJob('catchup', { 'p:catchup-detect:1': 'x' })).toThrow(/not a child job of catchup/);
    expect(() => groupByChildJob('catchup', { 'p:unknown:1': 'x' })).toThrow(/not a child job of catchup/);
  });
});
