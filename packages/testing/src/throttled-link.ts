// A slow link between two sites, on loopback, for benchmarks: every connection made through it shares one
// bandwidth per direction and a one-way delay, and the bytes each way are counted — a venue uplink without
// root or netem (this kind of machine has no delay qdisc), which every contender's traffic crosses alike.
// Each end's TCP ends at the proxy: a new connection pays the handshake's round trip (its first bytes are
// held back by it), but TCP's slow start and window over the delay are not modelled — every connection
// gets the bandwidth from its first byte, within a bound on the bytes it may hold in the link.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** The two ends of the link. A target sits on one side; its clients connect from the other. */
export type LinkSide = 'a' | 'b';

export interface LinkSettings {
  /** Bandwidth of each direction, in Mbit/s (10^6 bits). */
  mbit: number;
  /** Round-trip time added by the link, in ms: half of it is each direction's one-way delay. */
  rttMs: number;
}

export interface LinkBytes {
  /** Payload bytes that crossed from side a to side b (TCP/IP headers are not counted). */
  aToB: number;
  /** …and from side b to side a. */
  bToA: number;
}

export interface ThrottledLink extends LinkSettings {
  /** A port on 127.0.0.1 whose connections reach `target`, which sits on side `at` (clients are on the other side). */
  expose(target: { host?: string; port: number }, at: LinkSide): Promise<number>;
  /** Bytes that have crossed so far (delivered at the far end). */
  bytes(): LinkBytes;
  /** Connections accepted so far, over every exposed port. */
  connections(): number;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/**
 * Chunks are cut to this size before they queue: each is delivered whole after its serialization time,
 * so smaller slices keep delivery smooth (16 KB is 6.5 ms at 20 Mbit/s).
 */
const SLICE_BYTES = 16 * 1024;

/**
 * One direction of the link: a single serializer that chunks of every connection queue for, in the order
 * they arrive, then the one-way delay.
 */
class Direction {
  private busyUntil = 0;
  delivered = 0;
  private readonly bytesPerMs: number;
  readonly delayMs: number;

  constructor(bytesPerMs: number, delayMs: number) {
    this.bytesPerMs = bytesPerMs;
    this.delayMs = delayMs;
  }

  /** When a chunk of `length` bytes handed to the link now arrives at the far end (performance.now() ms). */
  schedule(length: number): number {
    const start = Math.max(performance.now(), this.busyUntil);
    this.busyUntil = start + length / this.bytesPerMs;
    return this.busyUntil + this.delayMs;
  }
}

/**
 * Forwards `from`'s bytes to `to` across `direction`, in order, each chunk after its time. A connection may
 * hold at most `inFlightLimit` bytes in the link (and in `to`'s write buffer); beyond that its sender is
 * paused, as a full window pauses a TCP sender, so that a fast sender cannot park a whole transfer in the
 * proxy and finish early. `from`'s end is passed on once everything before it has arrived. Nothing
 * arrives before `notBefore` (performance.now() ms).
 */
function forwardAcross(from: net.Socket, to: net.Socket, direction: Direction, inFlightLimit: number, notBefore = 0): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let queued = 0;
  let lastAt = notBefore;
  let timer: NodeJS.Timeout | undefined;

  const held = () => queued + to.writableLength;
  const resumeIfRoom = () => {
    if (from.isPaused() && held() <= inFlightLimit / 2 && !from.destroyed) from.resume();
  };
  const deliver = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) return;
      if (chunk === null) {
        to.end();
        continue;
      }
      queued -= chunk.length;
      direction.delivered += chunk.length;
      to.write(chunk);
    }
    resumeIfRoom();
    schedule();
  };
  const schedule = () => {
    if (timer === undefined && queue.length > 0) timer = setTimeout(deliver, Math.max(0, queue[0]!.at - performance.now()));
  };
  const enqueue = (at: number, chunk: Buffer | null) => {
    lastAt = Math.max(lastAt, at);
    queue.push({ at: lastAt, chunk });
    schedule();
  };

  from.on('data', (data: Buffer) => {
    for (let offset = 0; offset < data.length; offset += SLICE_BYTES) {
      const slice = data.subarray(offset, offset + SLICE_BYTES);
      queued += slice.length;
      enqueue(direction.schedule(slice.length), slice);
    }
    if (held() > inFlightLimit) from.pause();
  });
  from.on('end', () => enqueue(performance.now() + direction.delayMs, null));
  to.on('drain', resumeIfRoom);
  const stop = () => {
    clearTimeout(timer);
    queue.length = 0;
  };
  from.on('close', (hadError) => hadError && stop());
  to.on('close', stop);
}

/** Opens a link of `settings`; expose() gives the ports to connect through. Close it when done. */
export async function openThrottledLink(settings: LinkSettings): Promise<ThrottledLink> {
  if (!(settings.mbit > 0) || !(settings.rttMs >= 0)) throw new Error(`a link needs mbit > 0 and rttMs ≥ 0, got ${JSON.stringify(settings)}`);
  const bytesPerMs = (settings.mbit * 1e6) / 8 / 1000;
  const oneWay = settings.rttMs / 2;
  const directions = { aToB: new Direction(bytesPerMs, oneWay), bToA: new Direction(bytesPerMs, oneWay) };
  // Room for the bandwidth-delay product twice over (a TCP window keeps the link full), and at least 256 KB.
  const inFlightLimit = Math.max(256 * 1024, Math.ceil(2 * bytesPerMs * settings.rttMs));
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  return {
    ...settings,
    async expose(target, at) {
      // Clients are on the other side: what they send crosses towards `at`.
      const [towardsTarget, towardsClient] = at === 'b' ? [directions.aToB, directions.bToA] : [directions.bToA, directions.aToB];
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
        accepted++;
        // The client's side of the proxy accepts at once; a real connection's first bytes leave after the
        // handshake's round trip, and arrive one way later.
        const firstArrival = performance.now() + settings.rttMs + oneWay;
        const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true, noDelay: true });
        track(client);
        track(upstream);
        // A reset or a failed connect on either end resets the other: queued bytes are lost, as on a real link.
        const reset = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', reset);
        upstream.on('error', reset);
        forwardAcross(client, upstream, towardsTarget, inFlightLimit, firstArrival);
        forwardAcross(upstream, client, towardsClient, inFlightLimit);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as net.AddressInfo).port;
    },
    bytes: () => ({ aToB: directions.aToB.delivered, bToA: directions.bToA.delivered }),
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}
