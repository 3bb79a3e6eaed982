// Carrying out a folder's file plan with one peer (F3, F4): uploads (small files in bundles), downloads,
// deletes and conflict copies, a few at once. A file is replaced or removed on either side only while it
// still holds what the plan compared; every settled path is recorded as agreed.
import { copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  confinePath,
  bundledBytes,
  encodeBundle,
  MANIFEST_PAGE_MAX,
  quickFsFor,
  type QuickFs,
  recordDeletion,
  recordFile,
  removeFile,
  sendingStream,
  settleInParallel,
  sha256File,
  throwFirstFailure,
  writeVerified,
  type AgreedBase,
  type BundleEntry,
  type ComparedState,
  type FileDirectory,
  type Manifest,
  type Side,
} from '@catchup/files';
import type { Pool } from '@catchup/db';
import { PeerError, type PeerClient } from '@catchup/peer-client';
import { downloadDelta, uploadDelta, type DeltaPeer } from './files-delta.ts';
import { transfersOf, type FileStep, type Transfer, type UploadStep } from './files-plan.ts';

export interface FileSyncOutcome {
  directory: FileDirectory;
  uploaded: number;
  downloaded: number;
  deleted: number;
  conflicts: number;
  /** Bytes moved (uploaded + downloaded). */
  bytes: number;
  errors: string[];
}

/** Transfers at once per folder: overlapping fsyncs and round trips is most of the speed. */
const CONCURRENCY = 8;

/** The peer's manifest of a folder, brought up to date with its disk first. */
export async function readRemoteManifest(client: PeerClient, directory: FileDirectory): Promise<Manifest> {
  const files: Manifest = new Map();
  let after = '0';
  for (let first = true; ; first = false) {
    // The peer scans its disk once, for the first page.
    const page = await client.fileManifest(directory, after, MANIFEST_PAGE_MAX, first);
    for (const f of page.files) files.set(f.path, { sha256: f.sha256, size: f.size, mtimeMs: Date.parse(f.mtime), deleted: f.deleted });
    if (!page.has_more) return files;
    after = page.next_seq;
  }
}

/** What a side held when the plan compared it: a file of this size and mtime, or nothing. */
const comparedState = (side: Side): ComparedState => (side.sha256 === null ? 'absent' : { size: side.size, mtimeMs: side.mtimeMs });

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export interface FolderTransferSetup {
  pool: Pool;
  client: PeerClient;
  directory: FileDirectory;
  /** The folder on this node's disk. */
  root: string;
  /** The local manifest the plan was made from. */
  local: Manifest;
  agreed: AgreedBase;
  /** Counts what moved; errors name each failed file. */
  outcome: FileSyncOutcome;
}

/** Carries out a plan's steps; a step that fails is named in the outcome's errors and the others go on. */
export class FolderTransfer {
  readonly #s: FolderTransferSetup;

  constructor(setup: FolderTransferSetup) {
    this.#s = setup;
  }

  async carryOut(steps: FileStep[]): Promise<void> {
    throwFirstFailure(
      await settleInParallel(transfersOf(steps), CONCURRENCY, (transfer: Transfer) =>
        'bundle' in transfer ? this.#uploadBundle(transfer.bundle) : this.#step(transfer.step),
      ),
    );
  }

  #fail(file: string, err: unknown): void {
    this.#s.outcome.errors.push(`${this.#s.directory}/${file}: ${reasonOf(err)}`);
  }

  async #step(step: FileStep): Promise<void> {
    const { file, local, remote } = step;
    const { agreed, outcome } = this.#s;
    try {
      switch (step.kind) {
        case 'agree':
          await agreed.add(file, local.sha256);
          return;
        case 'upload':
          await agreed.add(file, await this.#upload(file, file, comparedState(remote)));
          outcome.uploaded++;
          return;
        case 'download':
          await agreed.add(file, await this.#download(file, file, undefined, comparedState(local)));
          outcome.downloaded++;
          return;
        case 'delete-remote':
          await this.#s.client.deleteFile(this.#s.directory, file, comparedState(remote));
          await agreed.add(file, null);
          outcome.deleted++;
          return;
        case 'delete-local':
          await removeFile(this.#s.root, file, comparedState(local));
          await recordDeletion(this.#s.pool, this.#s.directory, file);
          await agreed.add(file, null);
          outcome.deleted++;
          return;
        case 'conflict':
          await this.#settleConflict(step);
          outcome.conflicts++;
          return;
      }
    } catch (err) {
      this.#fail(file, err);
    }
  }

  /** The newer version goes to the path on both sides, the other to the copy on both sides. */
  async #settleConflict({ file, local, remote, winner, copy }: FileStep & { kind: 'conflict' }): Promise<void> {
    const { agreed } = this.#s;
    if (winner === 'local') {
      // The peer's version as it was when compared: if the peer replaced it meanwhile (say, settling
      // the same conflict the other way at the same time), the copy would keep the wrong version.
      // The local version is a base for a block delta of the peer's (most of a large file is alike).
      const copySha = await this.#download(file, copy, remote.sha256 ?? undefined, undefined, file);
      // The peer still holds that version at `file`: the copy is built there from its blocks.
      await this.#upload(copy, copy, undefined, { path: file, compared: comparedState(remote) });
      await agreed.add(copy, copySha);
      await agreed.add(file, await this.#upload(file, file, comparedState(remote)));
    } else {
      await copyFile(await confinePath(this.#s.root, file), await confinePath(this.#s.root, copy));
      const copySha = await this.#upload(copy, copy);
      await recordFile(this.#s.pool, this.#s.directory, copy, { sha256: copySha, size: local.size, mtimeMs: Date.now() });
      await agreed.add(copy, copySha);
      await agreed.add(file, await this.#download(file, file, undefined, comparedState(local)));
    }
  }

  /** What to announce for a local file: the manifest's checksum while its size and mtime still hold. */
  async #describeLocal(localPath: string, quick?: QuickFs): Promise<BundleEntry> {
    const full = path.join(this.#s.root, localPath);
    // A file quick cannot stat is asked again asynchronously, for the error that names why.
    const info = (await quick?.stat(full)) ?? (await stat(full));
    const entry = this.#s.local.get(localPath);
    const known = entry && !entry.deleted && entry.size === info.size && entry.mtimeMs === Math.floor(info.mtimeMs);
    return { file: localPath, sha256: known ? entry.sha256 : await sha256File(full), size: info.size, mtimeMs: info.mtimeMs };
  }

  get #peer(): DeltaPeer {
    return { client: this.#s.client, directory: this.#s.directory, root: this.#s.root };
  }

  /**
   * `replaces`: what the peer's path held when compared; a file the peer wrote since is not replaced. A
   * large file the peer holds another version of (at `remotePath`, or at `remoteBase`) goes as a block
   * delta. Returns the sha256 sent.
   */
  async #upload(localPath: string, remotePath: string, replaces?: ComparedState, remoteBase?: { path: string; compared: ComparedState }): Promise<string> {
    const delta = await uploadDelta(this.#peer, { localPath, remotePath, replaces, remoteBase });
    if (delta) {
      this.#s.outcome.bytes += delta.moved;
      return delta.sha256;
    }
    const described = await this.#describeLocal(localPath);
    const body = sendingStream(path.join(this.#s.root, localPath));
    await this.#s.client.uploadFile(this.#s.directory, remotePath, body, replaces ? { ...described, replaces } : described);
    this.#s.outcome.bytes += described.size;
    return described.sha256;
  }

  /**
   * `expected`: the sha256 the decision was made on; content that changed since is refused, not kept.
   * `replaces`: what the local path held then; a local file written since is not replaced.
   * `basePath`: a local version of the file whose blocks a block delta reuses (a large file only).
   * Returns the sha256 received.
   */
  async #download(remotePath: string, localPath: string, expected?: string, replaces?: ComparedState, basePath = localPath): Promise<string> {
    const base = this.#s.local.get(basePath);
    const delta = await downloadDelta(this.#peer, { remotePath, localPath, basePath, base, expected, replaces });
    if (delta) {
      await recordFile(this.#s.pool, this.#s.directory, localPath, delta);
      this.#s.outcome.bytes += delta.moved;
      return delta.sha256;
    }
    const file = await this.#s.client.downloadFile(this.#s.directory, remotePath);
    try {
      await writeVerified(this.#s.root, localPath, file.stream, { ...file, sha256: expected ?? file.sha256 }, replaces ? { replaces } : {});
    } catch (err) {
      file.stream.destroy(); // refused before it was read (a folder there, say): the connection is not left open
      throw err;
    }
    await recordFile(this.#s.pool, this.#s.directory, localPath, file);
    this.#s.outcome.bytes += file.size;
    return file.sha256;
  }

  async #uploadBundle(uploads: UploadStep[]): Promise<void> {
    const quick = await quickFsFor(this.#s.root);
    const found = await Promise.all(
      uploads.map((step) =>
        this.#describeLocal(step.file, quick)
          .then((entry): BundleEntry => ({ ...entry, replaces: comparedState(step.remote) }))
          .catch((err: unknown) => {
            this.#fail(step.file, err);
            return null;
          }),
      ),
    );
    const entries = found.filter((e) => e !== null);
    if (!entries.length) return;
    const { body, length } = encodeBundle(entries, (e) => bundledBytes(path.join(this.#s.root, e.file), e.size, quick));
    try {
      await this.#s.client.uploadBundle(this.#s.directory, body, length);
    } catch (err) {
      // The peer refused the bundle for one of its files (a folder where it goes, say): each goes on its
      // own, so that the others still arrive and the refused one is named.
      if (err instanceof PeerError && err.kind === 'rejected' && entries.length > 1) return this.#uploadEach(entries);
      for (const e of entries) this.#fail(e.file, err);
      return;
    }
    for (const e of entries) {
      await this.#s.agreed.add(e.file, e.sha256);
      this.#s.outcome.uploaded++;
      this.#s.outcome.bytes += e.size;
    }
  }

  async #uploadEach(entries: BundleEntry[]): Promise<void> {
    for (const e of entries) {
      try {
        await this.#s.agreed.add(e.file, await this.#upload(e.file, e.file, e.replaces));
        this.#s.outcome.uploaded++;
      } catch (err) {
        this.#fail(e.file, err);
      }
    }
  }
}
