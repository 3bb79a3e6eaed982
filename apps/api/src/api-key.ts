// The inbound API key: SYNC_API_KEY, or one generated at first start, stored as a hash, shown once.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '@catchup/db';

/** The sha256 of a text, as bytes (what keys and passwords are compared by, in constant time). */
export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function keyChecker(expectedHash: Buffer): (presented: string) => boolean {
  return (presented) => timingSafeEqual(sha256(presented), expectedHash);
}

export interface InboundKey {
  check: (presented: string) => boolean;
  /** Set only on the start that generated it: the caller prints it once. */
  generated?: string;
}

export async function resolveInboundKey(db: Db, configured: string | undefined): Promise<InboundKey> {
  if (configured) return { check: keyChecker(sha256(configured)) };
  const node = await db.nodeIdentity.findUnique({ where: { id: 1 } });
  if (node?.apiKeyHash) return { check: keyChecker(Buffer.from(node.apiKeyHash, 'hex')) };
  const generated = randomBytes(24).toString('base64url');
  const hash = sha256(generated).toString('hex');
  // The node row may not exist yet (no write captured so far): create it through the capture function.
  await db.$queryRaw`SELECT catchup_node_id()`;
  const updated = await db.nodeIdentity.updateMany({ where: { id: 1, apiKeyHash: null }, data: { apiKeyHash: hash } });
  if (updated.count === 0) {
    // Another process of this node generated one first: use that.
    const again = await db.nodeIdentity.findUniqueOrThrow({ where: { id: 1 } });
    return { check: keyChecker(Buffer.from(again.apiKeyHash!, 'hex')) };
  }
  return { check: keyChecker(Buffer.from(hash, 'hex')), generated };
}
