// TLS files from the environment: the certificate and key this node serves HTTPS with (TLS_CERT_FILE and
// TLS_KEY_FILE, both or neither) and the CA bundle its https peers must chain to (TLS_CA_FILE). They are
// read and checked at start-up, so that a missing, unreadable or mismatched file stops the node with a
// message naming the key and the path rather than failing the first handshake.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigProblem } from './errors.ts';

type Env = Record<string, string | undefined>;

export interface ServedTls {
  /** PEM: the node's certificate, then any intermediates. */
  cert: Buffer;
  key: Buffer;
  /** sha256 of the certificate's DER bytes, upper-case hex pairs joined by colons: what peers pin. */
  fingerprint: string;
}

export interface TlsConfig {
  /** Set when the node serves HTTPS. */
  tls?: ServedTls;
  /** TLS_CA_FILE's PEM bundle: https peers without a pinned fingerprint must chain to it (not to the system CAs). */
  peerCa?: Buffer;
}

function readPem(env: Env, key: string, problems: ConfigProblem[], what: string): Buffer | undefined {
  const file = env[key];
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(path.resolve(file));
  } catch (err) {
    problems.push({ key, expected: `a readable ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, received: file });
    return undefined;
  }
}

function parsed<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

export function readTlsConfig(env: Env, problems: ConfigProblem[]): TlsConfig {
  const out: TlsConfig = {};
  const certSet = Boolean(env.TLS_CERT_FILE);
  const keySet = Boolean(env.TLS_KEY_FILE);
  if (certSet !== keySet) {
    const [missing, given] = certSet ? ['TLS_KEY_FILE', 'TLS_CERT_FILE'] : ['TLS_CERT_FILE', 'TLS_KEY_FILE'];
    problems.push({ key: missing, expected: `a file path, since ${given} is set (HTTPS needs both the certificate and its key)` });
  }
  const cert = readPem(env, 'TLS_CERT_FILE', problems, 'PEM certificate file');
  const key = readPem(env, 'TLS_KEY_FILE', problems, 'PEM private key file');
  if (cert && key) {
    const x509 = parsed(() => new X509Certificate(cert));
    const privateKey: KeyObject | undefined = parsed(() => createPrivateKey(key));
    if (!x509) problems.push({ key: 'TLS_CERT_FILE', expected: 'a PEM certificate', received: env.TLS_CERT_FILE! });
    if (!privateKey) problems.push({ key: 'TLS_KEY_FILE', expected: 'an unencrypted PEM private key', received: env.TLS_KEY_FILE! });
    if (x509 && privateKey) {
      if (!x509.checkPrivateKey(privateKey)) {
        problems.push({
          key: 'TLS_KEY_FILE',
          expected: `the private key of the certificate in TLS_CERT_FILE (${env.TLS_CERT_FILE})`,
          received: env.TLS_KEY_FILE!,
        });
      } else {
        out.tls = { cert, key, fingerprint: x509.fingerprint256 };
      }
    }
  }
  const ca = readPem(env, 'TLS_CA_FILE', problems, 'PEM CA bundle file');
  if (ca) {
    if (parsed(() => new X509Certificate(ca))) out.peerCa = ca;
    else problems.push({ key: 'TLS_CA_FILE', expected: 'a PEM CA bundle (one or more certificates)', received: env.TLS_CA_FILE! });
  }
  return out;
}
