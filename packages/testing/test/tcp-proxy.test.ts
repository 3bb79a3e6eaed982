import net from 'node:net';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../src/tcp-proxy.ts';

const echo = net.createServer((socket) => socket.on('error', () => {}).pipe(socket));
await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));
const proxy = await startTcpProxy({ port: (echo.address() as net.AddressInfo).port });

async function connect(): Promise<{ socket: net.Socket; received: () => string }> {
  const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
  let text = '';
  socket.on('data', (d) => (text += d.toString()));
  socket.on('error', () => {});
  await once(socket, 'connect');
  return { socket, received: () => text };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('the test TCP proxy', () => {
  it('forwards, holds back while stalled, delivers in order once healed, and cuts', async () => {
    const { socket, received } = await connect();
    socket.write('a');
    await settle();
    expect(received()).toBe('a');
    proxy.stall();
    socket.write('b');
    socket.write('c');
    await settle();
    expect(received()).toBe('a');
    proxy.heal();
    await settle();
    expect(received()).toBe('abc');

    const closed = new Promise((resolve) => socket.once('close', resolve));
    proxy.cut();
    await closed;
    const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
    const outcome = await new Promise<string>((resolve) => {
      refused.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      refused.on('close', () => resolve('closed'));
    });
    expect(['ECONNRESET', 'closed']).toContain(outcome);
    proxy.heal();
    const again = await connect();
    again.socket.write('d');
    await settle();
    expect(again.received()).toBe('d');
    again.socket.destroy();
  });
});
