/**
 * How a call to a peer failed, so that the job layer can decide:
 * - unreachable: no connection (refused, DNS, reset) — retry later
 * - timeout: no answer within CATCHUP_CONNECTION_TIMEOUT — retry later
 * - rejected: the peer answered 4xx (bad key, invalid batch) — retrying the same request will not help
 * - server_error: the peer answered 5xx — retry later
 * - untrusted: its TLS certificate is not the pinned one or does not verify — retrying will not help
 *   (nothing was sent to it); an operator has to re-pair it or fix its certificate
 */
export type PeerErrorKind = 'unreachable' | 'timeout' | 'rejected' | 'server_error' | 'untrusted';

export class PeerError extends Error {
  readonly kind: PeerErrorKind;
  readonly status: number | undefined;

  constructor(kind: PeerErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'PeerError';
    this.kind = kind;
    this.status = status;
  }

  get retryable(): boolean {
    return this.kind !== 'rejected' && this.kind !== 'untrusted';
  }
}
