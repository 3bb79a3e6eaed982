// The file manifest of a synced folder (F2), freshly scanned on each request.
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  DEFAULT_EXCLUDES,
  directoryRoot,
  excluder,
  FILE_DIRECTORIES,
  isPlausibleMtime,
  MANIFEST_PAGE_MAX,
  MTIME_RULE,
  openForSending,
  blockListForSending,
  openBlocksForSending,
  parseRanges,
  BLOCK_BYTES,
  BLOCK_RANGES_TEXT,
  receiveDelta,
  readManifest,
  receiveBundle,
  recordDeletion,
  recordFile,
  recordFiles,
  removeFile,
  COMPARED_TEXT,
  COMPARED_TEXT_RULE,
  parseComparedText,
  scanDirectory,
  writeVerified,
  type BundleEntry,
  type FileDirectory,
} from '@catchup/files';
import { DELIVERY_OPERATIONS, recordPeerDelivery, type Delivery } from '@catchup/engine';
import { fileBlocksResponseSchema } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError, notFound } from '../errors.ts';
import { bigintString, errorResponses } from '../schemas.ts';

/**
 * The synced folder a file route works on: `directory`. `path` is its former name, still taken from
 * peers that send it; a query naming both names one folder. Each route's query is
 * z.object({ ...folderFields, … }).superRefine(oneFolder).transform(toDirectory).
 */
const folderFields = {
  directory: z.enum(FILE_DIRECTORIES).optional().describe('the synced folder (required)'),
  path: z.enum(FILE_DIRECTORIES).optional().describe('deprecated: the former name of directory'),
};

interface FolderFields {
  directory?: FileDirectory | undefined;
  path?: FileDirectory | undefined;
}

function oneFolder(query: FolderFields, ctx: z.RefinementCtx): void {
  if (query.directory === undefined && query.path === undefined) {
    ctx.addIssue({ code: 'custom', path: ['directory'], message: `required: one of ${FILE_DIRECTORIES.join(', ')}` });
  } else if (query.directory !== undefined && query.path !== undefined && query.directory !== query.path) {
    ctx.addIssue({ code: 'custom', path: ['directory'], message: 'names another folder than path, its deprecated name' });
  }
}

function toDirectory<Query extends FolderFields>({ directory, path, ...fields }: Query): Omit<Query, 'directory' | 'path'> & { directory: FileDirectory } {
  return { ...fields, directory: (directory ?? path)! };
}

const fileField = { file: z.string().min(1).max(1024).describe('path relative to the folder, with forward slashes') };
/** What the sender compared against (a file sync): the file is replaced or removed only while it still holds it. */
const replacesParam = z.string().regex(COMPARED_TEXT, COMPARED_TEXT_RULE).optional();
const sha256Param = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');

/** What an upload announces of the version it carries: what arrives is checked against it. */
const announcedFile = {
  sha256: sha256Param,
  size: z.coerce.number().int().min(0),
  mtime_ms: z.coerce
    .number()
    .int()
    .refine((mtime) => isPlausibleMtime(mtime), MTIME_RULE),
};

const entrySchema = z.object({
  path: z.string(),
  sha256: z.string(),
  size: z.number(),
  mtime: z.string(),
  change_seq: z.string(),
  deleted: z.boolean(),
});

/** Uploads are streamed: only an application/octet-stream body reaches a handler as a stream. */
function uploadStream(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw new HttpError(415, 'content-type: send files as application/octet-stream');
}

/** How much of a refused body is read and dropped before the answer goes out. */
const DRAIN_BYTES = 32 * 1024 * 1024;
const DRAIN_MS = 5000;

async function readToEnd(body: Readable): Promise<void> {
  let left = DRAIN_BYTES;
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    left -= (chunk as Buffer).length;
    if (left <= 0) return;
  }
}

/**
 * After a refusal, the rest of an upload's body is read and dropped before the answer goes out (Node
 * reads no more of a request once its answer is sent, and closing a connection with unread bytes resets
 * it, so the sender could lose the answer). A body longer than DRAIN_BYTES, or slower than DRAIN_MS, is
 * cut instead: its connection closes after the answer rather than wait for a server timeout.
 */
async function dropRestOfBody(body: Readable, reply: FastifyReply): Promise<void> {
  if (!body.readableEnded) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([readToEnd(body).catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
  }
  if (!body.readableEnded) void reply.header('connection', 'close');
}

export const fileRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const exclude = excluder([...DEFAULT_EXCLUDES, ...ctx.config.syncExclude]);
    /** A file or delete a peer delivered under its own credential is attributed to it in the sync log (an operator's is not logged). */
    const attribute = async (request: FastifyRequest, delivery: Omit<Delivery, 'peer' | 'startedAt'>, startedAt: Date) => {
      if (request.peer) await recordPeerDelivery(ctx.engine, { ...delivery, peer: request.peer, startedAt });
    };
    app.get(
      '/files/checksums',
      {
        schema: {
          tags: ['files'],
          summary: 'Manifest of a synced folder: files (and deletions) with sha256, size, mtime and change sequence',
          querystring: z
            .object({
              ...folderFields,
              catchup_mode: z.enum(['true', 'false']).default('false').describe('with since: only files modified after it'),
              since: z.iso.datetime({ offset: true }).optional(),
              after_seq: bigintString.optional().describe('only changes after this sequence (clock-independent)'),
              limit: z.coerce.number().int().min(1).max(MANIFEST_PAGE_MAX).default(1000),
              scan: z
                .enum(['true', 'false'])
                .default('true')
                .describe('bring the manifest up to date with the disk first; a reader paging through sets false after its first page'),
            })
            .superRefine(oneFolder)
            .transform(toDirectory),
          response: {
            200: z.object({
              path: z.enum(FILE_DIRECTORIES),
              files: z.array(entrySchema),
              next_seq: z.string(),
              has_more: z.boolean(),
              latest_seq: z.string().describe('the newest change sequence of all folders as the page was read'),
              scanned: z.object({ files: z.number(), hashed: z.number(), added: z.number(), changed: z.number(), deleted: z.number() }).nullable(),
            }),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { directory, catchup_mode, since, after_seq, limit, scan } = request.query;
        const scanned = scan === 'true' ? await scanDirectory(ctx.pool, ctx.config.dataDir, directory, { exclude }) : null;
        const page = await readManifest(ctx.pool, directory, {
          limit,
          ...(after_seq ? { afterSeq: after_seq } : {}),
          ...(catchup_mode === 'true' && since ? { since: new Date(since) } : {}),
        });
        return { path: directory, ...page, scanned };
      },
    );

    app.get(
      '/files/download',
      {
        schema: {
          tags: ['files'],
          summary: 'Stream a file; x-sha256 and x-mtime-ms headers describe it',
          querystring: z
            .object({ ...folderFields, ...fileField })
            .superRefine(oneFolder)
            .transform(toDirectory),
          response: { ...errorResponses },
        },
      },
      async (request, reply) => {
        const { directory, file } = request.query;
        const served = await openForSending(ctx.pool, directoryRoot(ctx.config.dataDir, directory), directory, file);
        if (!served) throw notFound(`File ${directory}/${file}`);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', served.size)
          .header('x-sha256', served.sha256)
          .header('x-mtime-ms', served.mtimeMs)
          .send(served.stream as never);
      },
    );

    app.get(
      '/files/blocks',
      {
        schema: {
          tags: ['files'],
          summary: "A file's block list (block deltas): block size, size, sha256 and mtime of the whole, and each block's sha256 in order",
          querystring: z
            .object({ ...folderFields, ...fileField })
            .superRefine(oneFolder)
            .transform(toDirectory),
          response: { 200: fileBlocksResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { directory, file } = request.query;
        const list = await blockListForSending(ctx.pool, directoryRoot(ctx.config.dataDir, directory), directory, file);
        if (!list) throw notFound(`File ${directory}/${file}`);
        return { block_size: list.blockSize, size: list.size, sha256: list.sha256, mtime_ms: list.mtimeMs, blocks: list.blocks };
      },
    );

    app.get(
      '/files/download-blocks',
      {
        schema: {
          tags: ['files'],
          summary: 'Stream chosen blocks of a file, concatenated, while it is still the version sha256 names (409 otherwise)',
          querystring: z
            .object({
              ...folderFields,
              ...fileField,
              sha256: sha256Param.describe('the version whose block list the blocks were chosen from'),
              blocks: z.string().max(8192).regex(BLOCK_RANGES_TEXT, 'ascending block indexes and ranges, e.g. 3,7-9').describe('e.g. 3,7-9'),
            })
            .superRefine(oneFolder)
            .transform(toDirectory),
          response: { ...errorResponses },
        },
      },
      async (request, reply) => {
        const { directory, file, sha256, blocks } = request.query;
        const served = await openBlocksForSending(ctx.pool, directoryRoot(ctx.config.dataDir, directory), directory, file, sha256, BLOCK_BYTES, (count) =>
          parseRanges(blocks, count),
        );
        if (!served) throw notFound(`File ${directory}/${file}`);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', served.length)
          .send(served.stream as never);
      },
    );

    app.register(async (scope) => {
      const uploads = scope.withTypeProvider<ZodTypeProvider>();
      // The body is streamed to disk as it arrives, never buffered.
      uploads.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
      uploads.put(
        '/files/upload',
        {
          schema: {
            tags: ['files'],
            summary: 'Receive a file (application/octet-stream): verified against sha256 and size, then renamed into place',
            querystring: z
              .object({
                ...folderFields,
                ...fileField,
                ...announcedFile,
                replaces: replacesParam,
              })
              .superRefine(oneFolder)
              .transform(toDirectory),
            response: { 200: z.object({ path: z.string(), file: z.string(), sha256: z.string(), size: z.number() }), ...errorResponses },
          },
        },
        async (request, reply) => {
          const { directory, file, sha256, size, mtime_ms, replaces } = request.query;
          const startedAt = new Date();
          const body = uploadStream(request.body);
          if (size > ctx.config.fileUploadLimitBytes)
            throw new HttpError(413, `size: ${size} bytes is over the upload limit of ${ctx.config.fileUploadLimitBytes}`);
          try {
            await writeVerified(
              directoryRoot(ctx.config.dataDir, directory),
              file,
              body,
              { sha256, size, mtimeMs: mtime_ms },
              {
                maxBytes: ctx.config.fileUploadLimitBytes,
                ...(replaces ? { replaces: parseComparedText(replaces) } : {}),
              },
            );
          } catch (err) {
            await dropRestOfBody(body, reply);
            throw err;
          }
          await recordFile(ctx.pool, directory, file, { sha256, size, mtimeMs: mtime_ms });
          await attribute(
            request,
            {
              operation: DELIVERY_OPERATIONS.filesReceived,
              details: `File ${directory}/${file} (${size} bytes) from ${request.peer?.name}`,
              facts: { directory, files: [{ file, sha256, size }], from: request.ip },
            },
            startedAt,
          );
          return { path: directory, file, sha256, size };
        },
      );

      uploads.put(
        '/files/upload-delta',
        {
          schema: {
            tags: ['files'],
            summary:
              "Receive a new version of a large file as a block delta (application/octet-stream): instructions that copy blocks of this node's current file (which must be base_sha256) or carry literal bytes; verified against sha256 and size, then renamed into place",
            querystring: z
              .object({
                ...folderFields,
                ...fileField,
                ...announcedFile,
                base_sha256: sha256Param.describe("the version of this node's file the delta was computed against"),
                block_size: z.coerce.number().int().min(1),
                base: fileField.file.optional().describe('the file here whose blocks the delta copies (default: file itself)'),
                replaces: replacesParam,
              })
              .superRefine(oneFolder)
              .transform(toDirectory),
            response: { 200: z.object({ path: z.string(), file: z.string(), sha256: z.string(), size: z.number() }), ...errorResponses },
          },
        },
        async (request, reply) => {
          const { directory, file, sha256, size, mtime_ms, base_sha256, block_size, base, replaces } = request.query;
          const startedAt = new Date();
          const body = uploadStream(request.body);
          try {
            if (size > ctx.config.fileUploadLimitBytes)
              throw new HttpError(413, `size: ${size} bytes is over the upload limit of ${ctx.config.fileUploadLimitBytes}`);
            await receiveDelta(
              ctx.pool,
              directoryRoot(ctx.config.dataDir, directory),
              directory,
              file,
              body,
              { sha256, size, mtimeMs: mtime_ms, baseSha256: base_sha256, blockSize: block_size },
              {
                maxBytes: ctx.config.fileUploadLimitBytes,
                ...(base ? { base } : {}),
                ...(replaces ? { replaces: parseComparedText(replaces) } : {}),
              },
            );
          } catch (err) {
            await dropRestOfBody(body, reply);
            throw err;
          }
          await recordFile(ctx.pool, directory, file, { sha256, size, mtimeMs: mtime_ms });
          const moved = Number(request.headers['content-length'] ?? 0);
          await attribute(
            request,
            {
              operation: DELIVERY_OPERATIONS.filesReceived,
              details: `File ${directory}/${file} (${size} bytes, ${moved} sent as a block delta) from ${request.peer?.name}`,
              facts: { directory, files: [{ file, sha256, size }], delta_bytes: moved, from: request.ip },
            },
            startedAt,
          );
          return { path: directory, file, sha256, size };
        },
      );

      uploads.put(
        '/files/upload-bundle',
        {
          schema: {
            tags: ['files'],
            summary:
              'Receive many small files in one body: per file a JSON header line {file, sha256, size, mtime_ms} then its bytes; all verified before any is put in place',
            querystring: z.object(folderFields).superRefine(oneFolder).transform(toDirectory),
            response: {
              200: z.object({ path: z.string(), files: z.array(z.object({ file: z.string(), sha256: z.string(), size: z.number() })) }),
              ...errorResponses,
            },
          },
        },
        async (request, reply) => {
          const { directory } = request.query;
          const startedAt = new Date();
          const body = uploadStream(request.body);
          let entries: BundleEntry[];
          try {
            entries = await receiveBundle(
              directoryRoot(ctx.config.dataDir, directory),
              body,
              ctx.config.fileUploadLimitBytes,
              Number(request.headers['content-length'] ?? 0),
            );
          } catch (err) {
            await dropRestOfBody(body, reply);
            throw err;
          }
          await recordFiles(ctx.pool, directory, entries);
          const files = entries.map((e) => ({ file: e.file, sha256: e.sha256, size: e.size }));
          await attribute(
            request,
            {
              operation: DELIVERY_OPERATIONS.filesReceived,
              details: `${files.length} file(s) in ${directory}/ (${files.reduce((sum, f) => sum + f.size, 0)} bytes) from ${request.peer?.name}`,
              facts: { directory, files, from: request.ip },
            },
            startedAt,
          );
          return { path: directory, files };
        },
      );
    });

    app.delete(
      '/files',
      {
        schema: {
          tags: ['files'],
          summary: 'Delete a file (a propagated delete); deleting a missing file is not an error',
          querystring: z
            .object({ ...folderFields, ...fileField, replaces: replacesParam })
            .superRefine(oneFolder)
            .transform(toDirectory),
          response: { 200: z.object({ deleted: z.boolean() }), ...errorResponses },
        },
      },
      async (request) => {
        const { directory, file, replaces } = request.query;
        const startedAt = new Date();
        const deleted = await removeFile(directoryRoot(ctx.config.dataDir, directory), file, replaces ? parseComparedText(replaces) : undefined);
        await recordDeletion(ctx.pool, directory, file);
        await attribute(
          request,
          {
            operation: DELIVERY_OPERATIONS.fileDeleted,
            details: `File ${directory}/${file} deleted by ${request.peer?.name}${deleted ? '' : ' (it was not there)'}`,
            facts: { directory, file, deleted, from: request.ip },
          },
          startedAt,
        );
        return { deleted };
      },
    );
  };
