import net from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { openThrottledLink, type ThrottledLink } from '../src/throttled-link.ts';

/** A server that reads everything a client sends, then answers with `reply` bytes per byte received / 1000 and ends. */
async function sink(): Promise<{ port: number; received: () => number }> {
  let received = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let mine = 0;
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      mine += d.length;
      received += d.length;
    });
    socket.on('end', () => socket.end(Buffer.alloc(Math.ceil(mine / 1000), 7)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
}

/** Sends `bytes` through `port`, half-closes, and resolves with what came back once the far end closed. */
async function exchange(port: number, bytes: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let back = 0;
  socket.on('data', (d: Buffer) => (back += d.length));
  await once(socket, 'connect');
  socket.end(Buffer.alloc(bytes, 1));
  await once(socket, 'end');
  socket.destroy();
  return back;
}

const links: ThrottledLink[] = [];
afterAll(() => Promise.all(links.map((link) => link.close())));
async function link(mbit: number, rttMs: number): Promise<ThrottledLink> {
  const opened = await openThrottledLink({ mbit, rttMs });
  links.push(opened);
  return opened;
}

const MB = 1024 * 1024;

describe('the throttled link', () => {
  it('moves 2 MB at 8 Mbit/s in no less than the bandwidth allows, counting every byte each way', async () => {
    const target = await sink();
    const slow = await link(8, 0);
    const port = await slow.expose({ port: target.port }, 'b');
    const start = performance.now();
    const back = await exchange(port, 2 * MB);
    const seconds = (performance.now() - start) / 1000;
    // 2 MiB is 2.097 s at 10^6 bytes/s; an upper bound only catches a link that does not forward at all.
    expect(seconds).toBeGreaterThanOrEqual(2.0);
    expect(seconds).toBeLessThan(8);
    expect(target.received()).toBe(2 * MB);
    expect(back).toBe(Math.ceil((2 * MB) / 1000));
    expect(slow.bytes()).toEqual({ aToB: 2 * MB, bToA: Math.ceil((2 * MB) / 1000) });
    expect(slow.connections()).toBe(1);
  });

  it('shares one bandwidth per direction among its connections, and counts a target on side a the other way', async () => {
    const target = await sink();
    const slow = await link(8, 0);
    const port = await slow.expose({ port: target.port }, 'a');
    const start = performance.now();
    await Promise.all([exchange(port, MB), exchange(port, MB)]);
    expect((performance.now() - start) / 1000).toBeGreaterThanOrEqual(2.0);
    expect(slow.bytes()).toEqual({ aToB: 2 * Math.ceil(MB / 1000), bToA: 2 * MB });
  });

  it('adds its round-trip time to a request and its answer, and the handshake’s to a new connection', async () => {
    const echo = net.createServer((socket) => socket.on('error', () => {}).pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const far = await link(1000, 300);
    const port = await far.expose({ port: (echo.address() as net.AddressInfo).port }, 'b');
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    const roundTrip = async (text: string) => {
      const start = performance.now();
      socket.write(text);
      const [data] = (await once(socket, 'data')) as [Buffer];
      expect(data.toString()).toBe(text);
      return performance.now() - start;
    };
    // The handshake (300 ms), the request (150 ms) and the answer (150 ms); then the request and answer alone.
    const first = await roundTrip('a');
    const second = await roundTrip('b');
    socket.destroy();
    expect(first).toBeGreaterThanOrEqual(595);
    expect(second).toBeGreaterThanOrEqual(295);
    expect(second).toBeLessThan(first);
    expect(first).toBeLessThan(3000);
  });

  it('pauses a sender faster than the link instead of taking its whole transfer in', async () => {
    const target = await sink();
    const slow = await link(8, 0);
    const port = await slow.expose({ port: target.port }, 'b');
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    for (let i = 0; i < 512; i++) socket.write(Buffer.alloc(64 * 1024, 1));
    await new Promise((r) => setTimeout(r, 1000));
    // About 1 MB has crossed; the proxy holds at most 256 KB and the loopback's socket buffers a few MB:
    // the rest waits in the sender.
    expect(socket.writableLength).toBeGreaterThan(16 * MB);
    expect(target.received()).toBeLessThan(2 * MB);
    socket.destroy();
  });

  it('closes a client whose target refuses the connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const slow = await link(8, 20);
    const port = await slow.expose({ port: deadPort }, 'b');
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'close');
    expect(slow.bytes()).toEqual({ aToB: 0, bToA: 0 });
  });

  it('refuses settings it cannot honour', async () => {
    await expect(openThrottledLink({ mbit: 0, rttMs: 40 })).rejects.toThrow(/mbit > 0/);
    await expect(openThrottledLink({ mbit: 20, rttMs: -1 })).rejects.toThrow(/rttMs ≥ 0/);
  });
});
