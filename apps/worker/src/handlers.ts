// What each job does: the engine's steps, wired to BullMQ jobs, with the seed's narrative in the logs.
import { BatchRejectedError } from '@catchup/changelog';
import {
  checkClaimsOfPeer,
  enabledDirectories,
  failureSummary,
  finalizeCatchup,
  measurePeers,
  peerHasChangesForUs,
  pingPeer,
  planCatchup,
  pruneNode,
  recordRefusal,
  receiveRange,
  resumeTableBaselines,
  sendRange,
  syncDirectory,
  type EngineContext,
  type ReceiveOutcome,
  type SendOutcome,
} from '@catchup/engine';
import { FILE_DIRECTORIES, latestFileSeq, scanDirectory } from '@catchup/files';
import type { Logger } from '@catchup/logger';
import { PeerError } from '@catchup/peer-client';
import { UnrecoverableError, WaitingChildrenError, type FileSyncJobResult, type Handlers, type NodeQueues, type RetryPolicy } from '@catchup/queue';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The error a batch job fails with, naming its range (the parent lists these). Failures that retrying
 * cannot fix (the peer refused the request, a batch was rejected) end the job at once, without backoff.
 */
function asJobError(err: unknown, what: string): Error {
  const text = `${what}: ${message(err)}`;
  if ((err instanceof PeerError && !err.retryable) || err instanceof BatchRejectedError) return new UnrecoverableError(text);
  return new Error(text);
}

export function createHandlers(engine: EngineContext, queues: NodeQueues, logger: Logger): Handlers {
  const retryPolicy = async (): Promise<RetryPolicy> => {
    const s = await engine.settings();
    return { attempts: s.catchup_retry_attempts, delayMs: s.catchup_retry_delay_ms };
  };

  // Every detection first finishes table baselines a stopped process left pending (the log then holds
  // every row of every synced table); a failure is logged and retried by the next detection.
  const finishInterruptedBaselines = async () => {
    try {
      for (const { table, rowsLogged } of await resumeTableBaselines(engine)) {
        logger.info({ table, baseline_rows: rowsLogged }, `🧾 Finished the interrupted baseline of ${table}: ${rowsLogged} existing row(s) logged`);
      }
    } catch (err) {
      logger.warn({ error: message(err) }, `❌ Could not finish an interrupted table baseline: ${message(err)}`);
    }
  };

  return {
    async detect(job) {
      await finishInterruptedBaselines();
      const settings = await engine.settings();
      if (!settings.catchup_enabled) return { skipped: 'catchup_enabled is false', peers: [] };
      logger.info({ job_id: job.id, trigger: job.data.trigger }, '🔍 Checking for servers that need catch-up');
      for (const directory of FILE_DIRECTORIES) await scanDirectory(engine.pool, engine.dataDir, directory, { exclude: engine.fileExclude });
      const localFileSeq = BigInt(await latestFileSeq(engine.pool));
      const peers = await measurePeers(engine, job.data.serverIds);
      const out: Awaited<ReturnType<Handlers['detect']>>['peers'] = [];
      for (const { server, missingChanges } of peers) {
        const ping = await pingPeer(engine, server);
        if (!ping.ok) {
          if (ping.answered) {
            await recordRefusal(engine, server, ping.reason);
            logger.warn({ server: server.name, error: ping.reason }, `❌ ${server.name} is not caught up with: ${ping.reason}`);
          } else {
            logger.warn({ server: server.name, error: ping.reason }, `❌ ${server.name} is not reachable`);
          }
          out.push({ server_id: server.id, server_name: server.name, missing_changes: missingChanges, reachable: false, error: ping.reason });
          continue;
        }
        const unmade = await checkClaimsOfPeer(engine, server, ping.ping.node_id, ping.ping.latest_sequence);
        if (unmade) logger.error({ server: server.name, alert: unmade }, `❌ Integrity alert: ${unmade}`);
        const peerHasMore = await peerHasChangesForUs(engine, server, ping.ping.latest_sequence);
        const filesChanged =
          enabledDirectories(server).length > 0 &&
          (localFileSeq > server.fileSeqLocal || BigInt(ping.ping.latest_file_seq) > server.fileSeqPeer);
        if (missingChanges === 0 && !peerHasMore && !filesChanged) {
          out.push({ server_id: server.id, server_name: server.name, missing_changes: 0, reachable: true });
          continue;
        }
        logger.info({ server: server.name, missing_changes: missingChanges }, `📊 ${server.name} is missing ${missingChanges} changes`);
        logger.info({ server: server.name }, `✅ ${server.name} is available for catch-up`);
        const catchup = await queues.add('catchup', { serverId: server.id, trigger: job.data.trigger }, await retryPolicy(), { serverId: server.id });
        out.push({ server_id: server.id, server_name: server.name, missing_changes: missingChanges, reachable: true, catchup_job_id: catchup.id! });
      }
      return { peers: out };
    },

    async catchup(job, token) {
      const { serverId } = job.data;
      if (job.data.step !== 'finalize') {
        const startedAt = new Date().toISOString();
        const planErrors: string[] = [];
        let fileSeqs: { fileSeqLocal?: string; fileSeqPeer?: string } = {};
        const server = await engine.db.syncServer.findUnique({ where: { id: serverId } });
        if (!server) throw new UnrecoverableError(`sync server ${serverId} no longer exists`);
        logger.info({ server: server.name, job_id: job.id }, `🚀 Starting catch-up sync for ${server.name}`);
        logger.info({ server: server.name, since: server.lastSync?.toISOString() ?? null }, `📅 Catch-up period: since ${server.lastSync?.toISOString() ?? 'the beginning'}`);
        const ping = await pingPeer(engine, server);
        let children = 0;
        if (!ping.ok) {
          planErrors.push(ping.reason);
          await job.updateData({ ...job.data, step: 'finalize', startedAt, planErrors });
        } else {
          const plan = await planCatchup(engine, server, ping.ping);
          logger.info(
            { server: server.name, missing_changes: plan.missingChanges, send_batches: plan.send.length, receive_ranges: plan.receive.length },
            `🗄️ Database: ${plan.missingChanges} changes to send in ${plan.send.length} batches, ${plan.receive.length} ranges to receive`,
          );
          if (plan.fullBaseline.send || plan.fullBaseline.receive) {
            const directions = [...(plan.fullBaseline.send ? [`${server.name} is behind this node's pruned log`] : []), ...(plan.fullBaseline.receive ? [`this node is behind ${server.name}'s pruned log`] : [])];
            logger.warn({ server: server.name, full_baseline: plan.fullBaseline }, `🧱 Full baseline: ${directions.join('; ')} — sending the standing version of every row instead of every change`);
          }
          const directories = enabledDirectories(server);
          if (directories.length) {
            fileSeqs = { fileSeqLocal: await latestFileSeq(engine.pool), fileSeqPeer: ping.ping.latest_file_seq };
            logger.info({ server: server.name, directories }, `📁 Files: syncing ${directories.join(', ')}`);
          }
          // Recorded before the children exist: whatever happens next, this job only finalizes.
          await job.updateData({ ...job.data, step: 'finalize', startedAt, planErrors, ...fileSeqs, fullBaseline: plan.fullBaseline });
          const retry = await retryPolicy();
          const sends = await queues.addChildren('batch-send', plan.send.map((range) => ({ serverId, peerNodeId: plan.peerNodeId, range })), retry, job);
          const receives = await queues.addChildren('batch-receive', plan.receive.map((range) => ({ serverId, range })), retry, job);
          const files = await queues.addChildren('file-sync', directories.map((directory) => ({ serverId, directory })), retry, job);
          children = sends.length + receives.length + files.length;
        }
        if (children > 0 && token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
      } else if (token && (await job.moveToWaitingChildren(token))) {
        // Handed back early (a worker died and the job was recovered as stalled): children still run.
        throw new WaitingChildrenError();
      }

      const values = await job.getChildrenValues<SendOutcome | ReceiveOutcome | FileSyncJobResult>();
      const failures = await job.getIgnoredChildrenFailures();
      const sends = Object.values(values).filter((v): v is SendOutcome => 'sent' in v);
      const receives = Object.values(values).filter((v): v is ReceiveOutcome => 'received' in v);
      const fileResults = Object.values(values).filter((v): v is FileSyncJobResult => 'directory' in v);
      const errors = [...(job.data.planErrors ?? []), ...Object.values(failures).map((reason) => String(reason))];
      const fileFailures = Object.keys(failures).some((key) => key.includes(':file-sync:'));
      const result = await finalizeCatchup(engine, {
        serverId,
        startedAt: new Date(job.data.startedAt ?? Date.now()),
        sends,
        receives,
        files: {
          uploaded: fileResults.reduce((n, f) => n + f.uploaded, 0),
          downloaded: fileResults.reduce((n, f) => n + f.downloaded, 0),
          deleted: fileResults.reduce((n, f) => n + f.deleted, 0),
          conflicts: fileResults.reduce((n, f) => n + f.conflicts, 0),
          bytes: fileResults.reduce((n, f) => n + f.bytes, 0),
        },
        ...(job.data.fileSeqLocal && !fileFailures ? { fileSeqs: { local: job.data.fileSeqLocal, peer: job.data.fileSeqPeer ?? '0' } } : {}),
        ...(job.data.fullBaseline ? { fullBaseline: job.data.fullBaseline } : {}),
        errors,
      });
      const fields = { server: result.server_name, job_id: job.id, duration: result.duration, mode: result.mode, ...result.database_changes };
      if (result.success) {
        logger.info(fields, `✅ Catch-up sync completed for ${result.server_name}: sent ${result.database_changes.sent}, received ${result.database_changes.received}, applied ${result.database_changes.applied} in ${result.duration.toFixed(1)}s`);
      } else {
        logger.error({ ...fields, errors }, `❌ Catch-up sync for ${result.server_name} finished with ${errors.length} error(s): ${errors[0]}`);
      }
      return result;
    },

    async 'batch-send'(job) {
      try {
        const out = await sendRange(engine, job.data.serverId, job.data.peerNodeId, job.data.range);
        logger.info({ server_id: job.data.serverId, job_id: job.id, sent: out.sent, range: out.range }, `📤 Sent ${out.sent} changes`);
        return out;
      } catch (err) {
        const { from, to } = job.data.range;
        logger.warn({ server_id: job.data.serverId, job_id: job.id, attempt: job.attemptsMade + 1, error: message(err) }, `❌ batch-send (${from}, ${to}] failed: ${message(err)}`);
        throw asJobError(err, `batch-send (${from}, ${to}]`);
      }
    },

    async 'file-sync'(job) {
      const { serverId, directory } = job.data;
      const out = await syncDirectory(engine, serverId, directory);
      logger.info(
        { server_id: serverId, job_id: job.id, directory, uploaded: out.uploaded, downloaded: out.downloaded, deleted: out.deleted, conflicts: out.conflicts },
        `📁 ${directory}: ${out.uploaded} uploaded, ${out.downloaded} downloaded, ${out.deleted} deleted, ${out.conflicts} conflicts`,
      );
      if (out.errors.length) {
        // What moved is settled (the base remembers it); the retry redoes only the rest.
        logger.warn({ server_id: serverId, directory, errors: out.errors }, `❌ file-sync ${directory}: ${out.errors.length} file(s) failed`);
        throw new Error(failureSummary(directory, out.errors));
      }
      return { directory, uploaded: out.uploaded, downloaded: out.downloaded, deleted: out.deleted, conflicts: out.conflicts, bytes: out.bytes };
    },

    async prune(job) {
      const report = await pruneNode(engine);
      if (!report.ran) {
        logger.info({ job_id: job.id }, '🧹 Prune skipped: another prune is running');
        return report;
      }
      const r = report.removed;
      logger.info(
        { job_id: job.id, trigger: job.data.trigger, ...r, ...report.horizons, duration: report.duration },
        `🧹 Pruned ${r.change_log_entries} change-log entries, ${r.file_tombstones} file tombstones, ${r.sync_logs} sync logs older than ${report.before}`,
      );
      return report;
    },

    async 'batch-receive'(job) {
      try {
        const out = await receiveRange(engine, job.data.serverId, job.data.range);
        logger.info({ server_id: job.data.serverId, job_id: job.id, received: out.received, applied: out.applied, range: out.range }, `📥 Received ${out.received} changes, applied ${out.applied}`);
        return out;
      } catch (err) {
        const { from, to } = job.data.range;
        logger.warn({ server_id: job.data.serverId, job_id: job.id, attempt: job.attemptsMade + 1, error: message(err) }, `❌ batch-receive (${from}, ${to}] failed: ${message(err)}`);
        throw asJobError(err, `batch-receive (${from}, ${to}]`);
      }
    },
  };
}
