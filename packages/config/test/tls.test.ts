import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadNodeConfig } from '@catchup/config';
import { createTestPki } from '@catchup/testing';

const pki = await createTestPki();
afterAll(() => pki.remove());
const ca = await pki.createCa('config-ca');
const leaf = await ca.issue('config-node');
const other = await pki.selfSigned('config-other');

function messageOf(env: Record<string, string>): string {
  try {
    loadNodeConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('TLS configuration', () => {
  it('serves plain http and trusts the system CAs when no TLS file is set', () => {
    const config = loadNodeConfig({});
    expect(config.tls).toBeUndefined();
    expect(config.peerCa).toBeUndefined();
  });

  it('reads the certificate and key, and computes the fingerprint openssl prints for the certificate', () => {
    const config = loadNodeConfig({ TLS_CERT_FILE: leaf.certFile, TLS_KEY_FILE: leaf.keyFile, TLS_CA_FILE: ca.certFile });
    const printed = execFileSync('openssl', ['x509', '-in', leaf.certFile, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    expect(printed.trim()).toBe(`sha256 Fingerprint=${config.tls!.fingerprint}`);
    expect(config.tls!.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(config.peerCa!.toString()).toContain('BEGIN CERTIFICATE');
  });

  it('needs both the certificate and the key, naming the one missing', () => {
    expect(messageOf({ TLS_CERT_FILE: leaf.certFile })).toMatch(/TLS_KEY_FILE: expected a file path, since TLS_CERT_FILE is set/);
    expect(messageOf({ TLS_KEY_FILE: leaf.keyFile })).toMatch(/TLS_CERT_FILE: expected a file path, since TLS_KEY_FILE is set/);
  });

  it('names the key and the path of a file it cannot read or parse', async () => {
    const missing = path.join(pki.dir, 'nowhere.crt');
    expect(messageOf({ TLS_CERT_FILE: missing, TLS_KEY_FILE: leaf.keyFile })).toMatch(
      new RegExp(`TLS_CERT_FILE: expected a readable PEM certificate file \\(ENOENT\\), got "${missing}"`),
    );
    expect(messageOf({ TLS_CA_FILE: missing })).toMatch(/TLS_CA_FILE: expected a readable PEM CA bundle file \(ENOENT\)/);
    const garbage = path.join(pki.dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate');
    expect(messageOf({ TLS_CERT_FILE: garbage, TLS_KEY_FILE: leaf.keyFile })).toMatch(/TLS_CERT_FILE: expected a PEM certificate, got ".*garbage\.pem"/);
    expect(messageOf({ TLS_CERT_FILE: leaf.certFile, TLS_KEY_FILE: garbage })).toMatch(/TLS_KEY_FILE: expected an unencrypted PEM private key/);
    expect(messageOf({ TLS_CA_FILE: garbage })).toMatch(/TLS_CA_FILE: expected a PEM CA bundle/);
  });

  it("refuses a key that is not the certificate's", () => {
    expect(messageOf({ TLS_CERT_FILE: leaf.certFile, TLS_KEY_FILE: other.keyFile })).toMatch(
      /TLS_KEY_FILE: expected the private key of the certificate in TLS_CERT_FILE/,
    );
  });
});
