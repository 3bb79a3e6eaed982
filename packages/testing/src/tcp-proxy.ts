// A TCP proxy on loopback that a test controls: the link between two nodes (or a node and its database)
// that can be cut, stalled and healed mid-transfer — a network fault without root or netem.
import net from 'node:net';
import { afterAll } from 'vitest';

export interface TcpProxy {
  /** The port clients connect to instead of the target's. */
  port: number;
  /** Drops every open connection at once (RST) and refuses new ones until heal(). */
  cut(): void;
  /** Keeps connections open but forwards nothing (a link that hangs) until heal(). */
  stall(): void;
  /** Forwards again; new connections are accepted. */
  heal(): void;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

type LinkState = 'up' | 'cut' | 'stalled';

/** Starts a proxy to `target` on a free loopback port; closed after the file's tests. */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const proxy = await openTcpProxy(target);
  afterAll(() => proxy.close());
  return proxy;
}

/** The same proxy without a vitest hook, for runners outside vitest (the chaos run); close it yourself. */
export async function openTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  let state: LinkState = 'up';
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (state === 'cut') {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (state !== 'up') {
          // Held back while stalled; delivered in order once the link heals.
          from.pause();
          from.unshift(chunk);
          return;
        }
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => {
        if (state === 'up') from.resume();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  const proxy: TcpProxy = {
    port,
    cut() {
      state = 'cut';
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    stall() {
      state = 'stalled';
    },
    heal() {
      state = 'up';
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    connections: () => accepted,
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
