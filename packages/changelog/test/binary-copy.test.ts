// The page reader takes PostgreSQL's binary COPY output apart itself: fields as bytes, and the order
// proof from a bigint[] (a page found out of order is read again, sorted).
import { describe, expect, it } from 'vitest';
import { to as copyTo } from 'pg-copy-streams';
import { ascending, binaryCopyRow } from '../src/binary-copy.ts';
import { useNodes } from './nodes.ts';

const [node] = await useNodes(1, 'binarycopy');

async function copyRow(select: string): Promise<(Buffer | null)[]> {
  const client = await node!.pool.connect();
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`))) chunks.push(chunk as Buffer);
    return binaryCopyRow(Buffer.concat(chunks));
  } finally {
    client.release();
  }
}

describe('binary COPY', () => {
  it('gives text fields as their UTF-8 bytes, and NULL as null', async () => {
    const [a, b, c] = await copyRow(`SELECT 'héllo "x"\\t'::text, NULL::text, ''::text`);
    expect(a!.toString('utf8')).toBe('héllo "x"\\t');
    expect(b).toBeNull();
    expect(c!.length).toBe(0);
  });

  it('tells a bigint[] in ascending order from one that is not', async () => {
    const [up, down, repeated, empty, none, large] = await copyRow(
      `SELECT ARRAY[1, 2, 30]::bigint[], ARRAY[1, 30, 2]::bigint[], ARRAY[5, 5]::bigint[], ARRAY[]::bigint[], NULL::bigint[],
              ARRAY[4294967296, 9223372036854775807]::bigint[]`,
    );
    expect(ascending(up!)).toBe(true);
    expect(ascending(down!)).toBe(false);
    expect(ascending(repeated!)).toBe(false);
    expect(ascending(empty!)).toBe(true);
    expect(ascending(none!)).toBe(true);
    expect(ascending(large!)).toBe(true);
  });

  it('refuses what is not binary COPY output', () => {
    expect(() => binaryCopyRow(Buffer.from('1\t2\n'))).toThrow(/not a binary COPY/);
  });
});
