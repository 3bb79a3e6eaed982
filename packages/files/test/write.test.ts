import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commitReceived, receiveToTemp, TransferRejectedError } from '../src/write.ts';

const root = await mkdtemp(path.join(tmpdir(), 'catchup-write-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const announced = (body: string) => ({ sha256: createHash('sha256').update(body).digest('hex'), size: Buffer.byteLength(body), mtimeMs: 1_780_000_000_000 });

describe('putting a received file in place (F3)', () => {
  it('a folder that appeared where the file goes after it was received: refused as a conflict naming the file, no temp file left', async () => {
    const received = await receiveToTemp(root, 'late/photo.jpg', [Buffer.from('bytes')], announced('bytes'));
    await mkdir(path.join(root, 'late', 'photo.jpg', 'inside'), { recursive: true });
    const refusal = await commitReceived(received).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(TransferRejectedError);
    expect(refusal).toMatchObject({ reason: 'conflict', message: 'late/photo.jpg: is a folder here' });
    expect(await readdir(path.join(root, 'late'))).toEqual(['photo.jpg']);
  });
});
