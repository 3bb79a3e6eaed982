// Block deltas with a peer (see @catchup/files blocks.ts): a large file that both sides hold in different
// versions moves as the blocks the other side lacks, in either direction. Each function answers null
// when a delta does not apply — the file is small, this side or the peer holds no version to build on,
// or the peer is of a version before block deltas (404) — and the caller sends the whole file instead.
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  assembleDownload,
  BLOCK_BYTES,
  confinePath,
  copyRecord,
  deltaBodyBytes,
  deltaInstructions,
  deltaWorthwhile,
  literalHeader,
  planBlocks,
  rangesText,
  readAt,
  readBlockList,
  senderBytes,
  senderRanges,
  TransferRejectedError,
  type BlockList,
  type ComparedState,
  type DeltaInstruction,
  type FileDirectory,
  type ManifestFile,
} from '@catchup/files';
import { PeerError, type FileBlocksResponse, type PeerClient } from '@catchup/peer-client';

export interface DeltaPeer {
  client: PeerClient;
  directory: FileDirectory;
  /** The folder on this node's disk. */
  root: string;
}

/** What a delta put in place, and the bytes that travelled for it. */
export interface DeltaMoved {
  sha256: string;
  size: number;
  mtimeMs: number;
  /** The bytes of the blocks that travelled (what a whole transfer would have moved: `size`). */
  moved: number;
}

/** Ranges asked for per request: the block list of a scattered change stays a short query. */
const RANGES_PER_REQUEST = 256;

/** A route the peer does not have: it runs a version before block deltas. */
const isMissingRoute = (err: unknown) => err instanceof PeerError && err.status === 404;

/**
 * Failures after which the whole file is fetched instead: a block that does not match its hash (corrupt
 * on the way, or the peer's file changed), a short or long answer, or the peer refusing the blocks (its
 * file changed since its list). The old file was left untouched.
 */
const fallsBackToWhole = (err: unknown) =>
  (err instanceof TransferRejectedError && (err.reason === 'checksum' || err.reason === 'size' || err.reason === 'format')) ||
  (err instanceof PeerError && err.kind === 'rejected');

/** The peer's block list of a file; null from a peer of a version before block deltas (404: no such route). */
async function peerBlockList(peer: DeltaPeer, file: string): Promise<FileBlocksResponse | null> {
  try {
    return await peer.client.fileBlocks(peer.directory, file);
  } catch (err) {
    if (isMissingRoute(err)) return null;
    throw err;
  }
}

/** The peer's blocks at `ranges` of version `sha256`, as one stream of bytes (a few requests). */
async function* fetchBlocks(peer: DeltaPeer, file: string, sha256: string, ranges: Array<[number, number]>): AsyncGenerator<Buffer> {
  for (let i = 0; i < ranges.length; i += RANGES_PER_REQUEST) {
    const stream = await peer.client.downloadBlocks(peer.directory, file, sha256, rangesText(ranges.slice(i, i + RANGES_PER_REQUEST)));
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      stream.destroy();
    }
  }
}

/**
 * Downloads the peer's `remotePath` into `localPath` as a block delta against the local file `basePath`
 * (`localPath` itself, or another version of the same file, as a conflict copy has). `expected`: the
 * sha256 the decision was made on; `replaces`: what `localPath` held when compared.
 */
export async function downloadDelta(
  peer: DeltaPeer,
  file: {
    remotePath: string;
    localPath: string;
    basePath: string;
    base: ManifestFile | undefined;
    expected?: string | undefined;
    replaces?: ComparedState | undefined;
  },
): Promise<DeltaMoved | null> {
  if (!file.base || file.base.deleted || file.base.size < BLOCK_BYTES) return null;
  const list = await peerBlockList(peer, file.remotePath);
  if (!list) return null;
  if (list.block_size !== BLOCK_BYTES || !deltaWorthwhile(file.base.size, list.size) || (file.expected && list.sha256 !== file.expected)) return null;
  let mine: BlockList;
  try {
    mine = await readBlockList(await confinePath(peer.root, file.basePath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const target = { blockSize: list.block_size, size: list.size, sha256: list.sha256, blocks: list.blocks, mtimeMs: list.mtime_ms };
  const sources = planBlocks(mine, target);
  const fetched = fetchBlocks(peer, file.remotePath, list.sha256, senderRanges(sources));
  try {
    await assembleDownload(peer.root, file.localPath, { target, sources, fetched, base: file.basePath, replaces: file.replaces });
  } catch (err) {
    if (fallsBackToWhole(err)) return null;
    throw err;
  } finally {
    await fetched.return(undefined); // closes a download the assembly stopped reading
  }
  return { sha256: target.sha256, size: target.size, mtimeMs: target.mtimeMs, moved: senderBytes(sources, target) };
}

/** A delta body's bytes: the instructions, with each literal block read from `file` as it is sent. */
async function* deltaBody(file: string, instructions: DeltaInstruction[], blockSize: number): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  try {
    for (const instruction of instructions) {
      if ('copy' in instruction) {
        yield copyRecord(instruction.copy.first, instruction.copy.count);
        continue;
      }
      const { index, length } = instruction.literal;
      const bytes = await readAt(handle, Buffer.allocUnsafe(length), index * blockSize, length);
      // A file that shrank since its blocks were read: the peer would refuse the short body anyway.
      if (bytes.length !== length) throw new Error(`${file}: changed while it was sent`);
      yield Buffer.concat([literalHeader(length), bytes]);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Uploads `localPath` to the peer's `remotePath` as a block delta against the peer's version, when the
 * peer holds one (`replaces`: what its path held when compared) — or against another file of the peer
 * (`remoteBase`: a conflict copy is built from the version at the original path). The peer refuses it
 * (409) if its base is no longer the version whose blocks the delta reuses, and checks the result as it
 * checks any upload.
 */
export async function uploadDelta(
  peer: DeltaPeer,
  file: {
    localPath: string;
    remotePath: string;
    replaces?: ComparedState | undefined;
    remoteBase?: { path: string; compared: ComparedState } | undefined;
  },
): Promise<DeltaMoved | null> {
  const basePath = file.remoteBase?.path ?? file.remotePath;
  const theirs = file.remoteBase ? file.remoteBase.compared : file.replaces;
  if (theirs === undefined || theirs === 'absent') return null;
  const full = await confinePath(peer.root, file.localPath);
  if (!deltaWorthwhile(theirs.size, (await stat(full)).size)) return null;
  const list = await peerBlockList(peer, basePath);
  if (!list) return null;
  if (list.block_size !== BLOCK_BYTES) return null;
  const mine = await readBlockList(full);
  const sources = planBlocks({ blockSize: list.block_size, size: list.size, sha256: list.sha256, blocks: list.blocks }, mine);
  const instructions = deltaInstructions(sources, mine);
  const body = Readable.from(deltaBody(full, instructions, mine.blockSize), { objectMode: false });
  try {
    await peer.client.uploadDelta(peer.directory, file.remotePath, body, deltaBodyBytes(instructions), {
      sha256: mine.sha256,
      size: mine.size,
      mtimeMs: mine.mtimeMs,
      baseSha256: list.sha256,
      blockSize: mine.blockSize,
      ...(basePath === file.remotePath ? {} : { base: basePath }),
      ...(file.replaces ? { replaces: file.replaces } : {}),
    });
  } catch (err) {
    body.destroy();
    if (isMissingRoute(err)) return null;
    throw err;
  }
  return { sha256: mine.sha256, size: mine.size, mtimeMs: mine.mtimeMs, moved: senderBytes(sources, mine) };
}
