// Certificates for tests of TLS between nodes, made by the `openssl` binary in a temporary folder: a CA,
// certificates it signs for a node's names, and self-signed ones (what a node without a CA would use, and
// what an impostor presents).
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** sha256 of the DER certificate, upper-case hex pairs joined by colons (as a node prints it). */
  fingerprint: string;
}

export interface TestCa {
  /** The CA's certificate: what TLS_CA_FILE names. */
  certFile: string;
  /** A certificate signed by this CA for `name`, valid for `hosts` (names or IP addresses). */
  issue(name: string, hosts?: string[]): Promise<TestCertificate>;
}

export interface TestPki {
  dir: string;
  createCa(name: string): Promise<TestCa>;
  /** A certificate that signs itself, valid for `hosts`. */
  selfSigned(name: string, hosts?: string[]): Promise<TestCertificate>;
  remove(): Promise<void>;
}

const subjectAltName = (hosts: string[]) => hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');

async function fingerprintOf(certFile: string): Promise<string> {
  return new X509Certificate(await readFile(certFile)).fingerprint256;
}

/** A folder for a test's certificates (P-256 keys: quick to make). */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'catchup-tls-'));
  const file = (name: string) => path.join(dir, name);
  const newKey = (keyFile: string) => run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  /** A certificate of the key signed by itself, valid two days, with these X.509 extensions. */
  const selfSign = (keyFile: string, certFile: string, name: string, extensions: string[]) =>
    run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      ...extensions.flatMap((e) => ['-addext', e]),
    ]);

  return {
    dir,
    async createCa(name) {
      const certFile = file(`${name}.crt`);
      const keyFile = file(`${name}.key`);
      await newKey(keyFile);
      await selfSign(keyFile, certFile, name, ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
      return {
        certFile,
        async issue(leaf, hosts = ['127.0.0.1', 'localhost']) {
          const leafKey = file(`${leaf}.key`);
          const leafCsr = file(`${leaf}.csr`);
          const leafCert = file(`${leaf}.crt`);
          const extFile = file(`${leaf}.ext`);
          await newKey(leafKey);
          await run('openssl', ['req', '-new', '-key', leafKey, '-out', leafCsr, '-subj', `/CN=${leaf}`]);
          await writeFile(extFile, `subjectAltName=${subjectAltName(hosts)}\nextendedKeyUsage=serverAuth,clientAuth\n`);
          await run('openssl', [
            'x509',
            '-req',
            '-in',
            leafCsr,
            '-CA',
            certFile,
            '-CAkey',
            keyFile,
            '-CAcreateserial',
            '-out',
            leafCert,
            '-days',
            '2',
            '-extfile',
            extFile,
          ]);
          return { certFile: leafCert, keyFile: leafKey, fingerprint: await fingerprintOf(leafCert) };
        },
      };
    },
    async selfSigned(name, hosts = ['127.0.0.1', 'localhost']) {
      const certFile = file(`${name}.crt`);
      const keyFile = file(`${name}.key`);
      await newKey(keyFile);
      await selfSign(keyFile, certFile, name, [`subjectAltName=${subjectAltName(hosts)}`]);
      return { certFile, keyFile, fingerprint: await fingerprintOf(certFile) };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
