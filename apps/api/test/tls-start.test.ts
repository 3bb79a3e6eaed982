// A node process serving HTTPS: it prints its certificate's fingerprint at start-up (what a peer pins),
// and refuses to start on incomplete TLS configuration with a message naming the variable.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPki, freePort, useQueuePrefix, useTestDatabases } from '@catchup/testing';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');
const [database] = await useTestDatabases(1, 'tls_start');
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-tls-start-'));
const pki = await createTestPki();
const cert = await pki.selfSigned('tls-start');
afterAll(async () => {
  await pki.remove();
  await rm(dataDir, { recursive: true, force: true });
});

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      NODE_NAME: 'tls-start',
      HOST: '127.0.0.1',
      QUEUE_PREFIX: useQueuePrefix('tls-start'),
      DATA_DIR: dataDir,
      DATABASE_URL: database!.url,
      SYNC_API_KEY: 'tls-start-key-0123456789',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return { child, output: () => output };
}

describe('a node process with TLS', () => {
  it('prints the fingerprint of the certificate it serves at start-up', async () => {
    const { child, output } = run({ PORT: String(await freePort()), TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile });
    try {
      const end = Date.now() + 30_000;
      while (!output().includes('certificate fingerprint') && child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(output()).toContain(`certificate fingerprint (sha256) ${cert.fingerprint}`);
      expect(output()).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });

  it('refuses to start with a certificate and no key, naming the missing variable', async () => {
    const { child, output } = run({ PORT: String(await freePort()), TLS_CERT_FILE: cert.certFile });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toMatch(/TLS_KEY_FILE: expected a file path, since TLS_CERT_FILE is set/);
  });
});
