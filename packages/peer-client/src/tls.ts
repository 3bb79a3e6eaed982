// How this node trusts a peer's TLS certificate. A peer with a pinned fingerprint is trusted when its
// certificate is exactly that one (the sha256 of its DER bytes, as a Syncthing device id names a device):
// no CA and no host name take part, the pin is the identity. Any other https peer is trusted when its
// certificate chains to the configured CA bundle (TLS_CA_FILE) or, without one, to the system CAs, and
// names the host it was reached at.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** The code of the error a connection to a pinned peer fails with when it presents another certificate. */
export const FINGERPRINT_MISMATCH = 'ERR_PEER_TLS_FINGERPRINT';

const HEX_64 = /^[0-9A-F]{64}$/;
const COLON_PAIRS = /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/;

/**
 * A certificate fingerprint in its one written form: 32 upper-case hex pairs joined by colons, as
 * `openssl x509 -fingerprint -sha256` and Node's X509Certificate.fingerprint256 print it. Takes 64 hex
 * digits with or without those colons, in either case; anything else is null.
 */
export function normalizeFingerprint(text: string): string | null {
  const upper = text.trim().toUpperCase();
  if (COLON_PAIRS.test(upper)) return upper;
  if (HEX_64.test(upper)) return upper.match(/../g)!.join(':');
  return null;
}

export function fingerprintMismatchMessage(url: string, expected: string, presented: string | undefined): string {
  return `${url} presented a TLS certificate with fingerprint ${presented ?? '(none)'}, not the pinned ${expected}: refused (re-pair the peer if it changed its certificate)`;
}

/**
 * Connects without the CA check and refuses the connection, before any request byte goes out, unless the
 * peer's certificate has the pinned fingerprint. Sessions are not resumed, so every connection shows its
 * certificate.
 */
class PinnedAgent extends https.Agent {
  readonly #fingerprint: string;

  constructor(fingerprint: string) {
    super({ keepAlive: true, maxCachedSessions: 0 });
    this.#fingerprint = fingerprint;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, socket: Duplex) => void): Duplex {
    // The base class creates the TLS socket; its typings omit the method.
    const create = (https.Agent.prototype as unknown as { createConnection: (o: https.RequestOptions, cb?: unknown) => TLSSocket }).createConnection;
    const socket = create.call(this, { ...options, rejectUnauthorized: false }, callback);
    socket.once('secureConnect', () => {
      const presented = socket.getPeerCertificate().fingerprint256 as string | undefined;
      if (presented === this.#fingerprint) return;
      const url = `https://${options.host ?? options.hostname}:${options.port}`;
      socket.destroy(Object.assign(new Error(fingerprintMismatchMessage(url, this.#fingerprint, presented)), { code: FINGERPRINT_MISMATCH }));
    });
    return socket;
  }
}

const pinnedAgents = new Map<string, https.Agent>();
const caAgents = new Map<string, https.Agent>();
const systemCaAgent = new https.Agent({ keepAlive: true });

function cached(agents: Map<string, https.Agent>, key: string, make: () => https.Agent): https.Agent {
  const known = agents.get(key);
  if (known) return known;
  const made = make();
  agents.set(key, made);
  return made;
}

/**
 * The agent for https calls to a peer, shared by every client of the same trust (so that connections are
 * kept alive across calls). `fingerprint` is normalized; `ca` is the PEM bundle of TLS_CA_FILE.
 */
export function httpsAgentFor(trust: { fingerprint?: string | null; ca?: Buffer | undefined }): https.Agent {
  const { fingerprint, ca } = trust;
  if (fingerprint) return cached(pinnedAgents, fingerprint, () => new PinnedAgent(fingerprint));
  if (ca) return cached(caAgents, ca.toString('latin1'), () => new https.Agent({ keepAlive: true, ca }));
  return systemCaAgent;
}

/** OpenSSL's and Node's codes for a certificate that does not verify: the peer is not who it should be. */
export const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  FINGERPRINT_MISMATCH,
]);
