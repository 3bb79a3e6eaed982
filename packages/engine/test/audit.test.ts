import { describe, expect, it } from 'vitest';
import { actorOf, ADMIN_OPERATION_NAMES, fieldChanges, isSecretField } from '../src/audit.ts';

describe('fieldChanges', () => {
  it('lists only the fields whose value differs, with both values', () => {
    expect(fieldChanges({ host: 'a.example', port: 5000, sync_uploads: true }, { host: 'b.example', port: 5000, sync_uploads: false })).toEqual({
      host: { before: 'a.example', after: 'b.example' },
      sync_uploads: { before: true, after: false },
    });
  });

  it('compares structured values by content', () => {
    expect(fieldChanges({ list: [1, 2] }, { list: [1, 2] })).toEqual({});
    expect(fieldChanges({ list: [1, 2] }, { list: [2, 1] })).toEqual({ list: { before: [1, 2], after: [2, 1] } });
  });

  it('gives null for the side of a thing created or removed', () => {
    expect(fieldChanges(null, { name: 'lab', is_active: true })).toEqual({ name: { before: null, after: 'lab' }, is_active: { before: null, after: true } });
    expect(fieldChanges({ name: 'lab' }, null)).toEqual({ name: { before: 'lab', after: null } });
  });

  it('never shows a secret: only whether it was set, set anew or changed', () => {
    const secret = 'outbound-key-0123456789';
    expect(fieldChanges(null, { api_key: secret })).toEqual({ api_key: { before: null, after: '(set)' } });
    expect(fieldChanges({ api_key: secret }, { api_key: 'another-key-0123456789' })).toEqual({ api_key: { before: '(set)', after: '(changed)' } });
    expect(fieldChanges({ api_key: secret }, { api_key: null })).toEqual({ api_key: { before: '(set)', after: null } });
    expect(fieldChanges({ api_key: secret }, { api_key: secret })).toEqual({});
    const all = JSON.stringify([fieldChanges(null, { metrics_token: secret, admin_password: secret }), fieldChanges({ client_secret: secret }, null)]);
    expect(all).not.toContain(secret);
  });
});

describe('isSecretField', () => {
  it('knows keys, passwords, tokens and secrets by name, and nothing else', () => {
    for (const name of ['api_key', 'key', 'admin_password', 'metrics_token', 'client_secret', 'API_KEY', 'api_keys'])
      expect(isSecretField(name), name).toBe(true);
    for (const name of ['name', 'host', 'tls_fingerprint', 'keyboard', 'sync_uploads', 'token_count']) expect(isSecretField(name), name).toBe(false);
  });
});

describe('actorOf', () => {
  it('reads the actor of an audit row, and null from any other result', () => {
    expect(actorOf({ actor: 'node api key', changes: {} })).toBe('node api key');
    expect(actorOf({ server_id: 1, success: true })).toBeNull();
    expect(actorOf(null)).toBeNull();
  });
});

describe('ADMIN_OPERATIONS', () => {
  it('names each operation once', () => {
    expect(new Set(ADMIN_OPERATION_NAMES).size).toBe(ADMIN_OPERATION_NAMES.length);
  });
});
