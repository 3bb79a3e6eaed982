// zstd bodies shaped as a hostile peer would send them.
import zlib from 'node:zlib';

/**
 * A body compressed as a stream — its size unknown to the encoder, so the frame cannot shrink its window
 * to it — declaring a window of 2^windowLog bytes: what a decoder must refuse before allocating it.
 */
export async function streamedZstd(body: Buffer, windowLog: number): Promise<Buffer> {
  const encoder = zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_windowLog]: windowLog } });
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve) => encoder.on('end', resolve));
  encoder.end(body);
  await done;
  return Buffer.concat(chunks);
}
