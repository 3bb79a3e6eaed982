// The credential functions on a real database: issue (the token once, only its hash stored), rotation's
// expiry of the others (never lengthened), revocation scoped to its peer, and what verifyPeerToken takes.
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { issueCredential, listCredentials, revokeCredential, tokenHash, verifyPeerToken } from '@catchup/engine';
import { useTestDatabases } from '@catchup/testing';

const [database] = await useTestDatabases(1, 'credentials');
const db = database!.db;
const pool = createPool(database!.url, 2);
afterAll(() => pool.end());
const ctx = { db, pool };

const peer = async (name: string) => (await db.syncServer.create({ data: { name, host: '127.0.0.1', port: 5000 } })).id;

describe('peer credentials', () => {
  it('issues a token shown once, stores only its hash, and verifies it as its peer', async () => {
    const id = await peer('site-b');
    const issued = await issueCredential(ctx, id);
    expect(issued).not.toBeNull();
    const { credential, expiring } = issued!;
    expect(credential).toMatchObject({ server_id: id, label: `cred-${credential.id}`, state: 'active', expires_at: null, revoked_at: null });
    expect(credential.token).toMatch(/^cus_[A-Za-z0-9_-]{43}$/);
    expect(expiring).toEqual([]);
    const row = await db.peerCredential.findUniqueOrThrow({ where: { id: credential.id } });
    expect(row.secretHash).toBe(tokenHash(credential.token));
    expect(JSON.stringify(row)).not.toContain(credential.token);
    expect(await listCredentials(ctx, id)).toEqual([expect.not.objectContaining({ token: expect.anything() })]);
    expect(await verifyPeerToken(ctx, credential.token)).toEqual({ serverId: id, name: 'site-b', credentialId: credential.id, label: credential.label });
    expect((await db.peerCredential.findUniqueOrThrow({ where: { id: credential.id } })).lastUsedAt).toBeInstanceOf(Date);
  });

  it('takes only a token of the right shape that this node issued', async () => {
    const id = await peer('site-shape');
    const { credential } = (await issueCredential(ctx, id))!;
    expect(await verifyPeerToken(ctx, `${credential.token}x`)).toBeNull();
    expect(await verifyPeerToken(ctx, credential.token.slice(0, -1))).toBeNull();
    expect(await verifyPeerToken(ctx, `cus_${'A'.repeat(43)}`)).toBeNull();
    expect(await verifyPeerToken(ctx, '')).toBeNull();
    expect(await verifyPeerToken(ctx, tokenHash(credential.token))).toBeNull();
  });

  it('a rotation gives the live others an expiry, never lengthens a sooner one, and leaves revoked ones alone', async () => {
    const id = await peer('site-rotate');
    const first = (await issueCredential(ctx, id))!.credential;
    const soon = (await issueCredential(ctx, id))!.credential;
    const gone = (await issueCredential(ctx, id))!.credential;
    await revokeCredential(ctx, id, gone.id);
    const firstRotation = (await issueCredential(ctx, id, { expireOthersInSeconds: 60 }))!;
    expect(firstRotation.expiring.map((c) => c.id)).toEqual([first.id, soon.id]);
    const rotated = await issueCredential(ctx, id, { expireOthersInSeconds: 3600 });
    // The second rotation found first and soon expiring within 60 s: it left them so, and gave the first
    // rotation's credential (no expiry yet) an hour.
    const [firstNow, soonNow] = (await listCredentials(ctx, id))!;
    expect(firstNow).toMatchObject({ id: first.id, state: 'expiring' });
    expect(soonNow).toMatchObject({ id: soon.id, state: 'expiring' });
    expect(new Date(firstNow!.expires_at!).getTime() - Date.now()).toBeLessThan(61_000);
    expect(rotated!.expiring.map((c) => [c.id, c.state])).toEqual([[firstRotation.credential.id, 'expiring']]);
    expect(new Date(rotated!.expiring[0]!.expires_at!).getTime() - Date.now()).toBeGreaterThan(3500_000);
    // An expiry of 0 stops the others at once.
    const last = await issueCredential(ctx, id, { expireOthersInSeconds: 0 });
    expect(last!.expiring.map((c) => c.state)).toEqual(['expired', 'expired', 'expired', 'expired']);
    expect(await verifyPeerToken(ctx, rotated!.credential.token)).toBeNull();
    expect(await verifyPeerToken(ctx, last!.credential.token)).not.toBeNull();
    const states = (await listCredentials(ctx, id))!.map((c) => c.state);
    expect(states).toEqual(['expired', 'expired', 'revoked', 'expired', 'expired', 'active']);
  });

  it('revokes only a credential of the peer named; again changes nothing; an unknown peer is null', async () => {
    const b = await peer('site-revoke-b');
    const c = await peer('site-revoke-c');
    const ofB = (await issueCredential(ctx, b))!.credential;
    expect(await revokeCredential(ctx, c, ofB.id)).toBeNull();
    expect(await verifyPeerToken(ctx, ofB.token)).not.toBeNull();
    const revoked = await revokeCredential(ctx, b, ofB.id);
    expect(revoked).toMatchObject({ changed: true, credential: { id: ofB.id, state: 'revoked' } });
    expect(await verifyPeerToken(ctx, ofB.token)).toBeNull();
    const again = await revokeCredential(ctx, b, ofB.id);
    expect(again).toMatchObject({ changed: false, credential: { revoked_at: revoked!.credential.revoked_at } });
    expect(await issueCredential(ctx, 999_999)).toBeNull();
    expect(await listCredentials(ctx, 999_999)).toBeNull();
  });

  it("a peer's removal removes its credentials", async () => {
    const id = await peer('site-removed');
    const { credential } = (await issueCredential(ctx, id))!;
    await db.syncServer.delete({ where: { id } });
    expect(await verifyPeerToken(ctx, credential.token)).toBeNull();
    expect(await db.peerCredential.count({ where: { id: credential.id } })).toBe(0);
  });
});
