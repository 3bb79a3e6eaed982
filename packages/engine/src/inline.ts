// A whole catch-up run in this process, step after step. The job layer runs the same steps as a flow.
import type { SyncServer } from '@catchup/db';
import type { PingResponse } from '@catchup/peer-client';
import { finalizeCatchup, planCatchup, receiveRange, sendRange, type CatchupResult, type ReceiveOutcome, type SendOutcome } from './catchup.ts';
import type { EngineContext } from './context.ts';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runCatchupInline(ctx: EngineContext, server: SyncServer, ping: PingResponse): Promise<CatchupResult> {
  const startedAt = new Date();
  const errors: string[] = [];
  const sends: SendOutcome[] = [];
  const receives: ReceiveOutcome[] = [];
  try {
    const plan = await planCatchup(ctx, server, ping);
    for (const range of plan.send) {
      try {
        sends.push(await sendRange(ctx, server.id, plan.peerNodeId, range));
      } catch (err) {
        errors.push(`batch-send (${range.from}, ${range.to}]: ${message(err)}`);
        break; // later ranges could not move the cursor past this one anyway
      }
    }
    for (const range of plan.receive) {
      try {
        receives.push(await receiveRange(ctx, server.id, range));
      } catch (err) {
        errors.push(`batch-receive (${range.from}, ${range.to}]: ${message(err)}`);
        break;
      }
    }
  } catch (err) {
    errors.push(message(err));
  }
  return finalizeCatchup(ctx, { serverId: server.id, startedAt, sends, receives, errors });
}
