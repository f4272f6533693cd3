// An HTTP CONNECT proxy (what HTTPS_PROXY names) for the tests: it tunnels TLS end to end and records what it was
// asked for. With `routes` it tunnels only to those names ("name:port" → "127.0.0.1:port", anything else 403), so a
// loopback registry can be reached under a name nothing resolves (see test/harness/dockerd.ts on 127.0.0.0/8).
// Plain-HTTP proxy requests (not CONNECT) get 405.

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface ConnectProxy {
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** Requests asked for, in order ("CONNECT host:port"). */
  connects: string[];
  /** CONNECT targets asked for, in order ("host:port"). */
  tunnels: string[];
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1; without `routes` it tunnels to whatever host:port a CONNECT names. */
export async function startConnectProxy(routes?: Record<string, string>): Promise<ConnectProxy> {
  const connects: string[] = [];
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) client.destroy();
        return;
      }
      client.off('data', onData);
      const [method, target] = head.subarray(0, end).toString('latin1').split('\r\n')[0]!.split(' ');
      const rest = head.subarray(end + 4);
      connects.push(`${method} ${target}`);
      if (method !== 'CONNECT' || !target) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      tunnels.push(target);
      const to = routes ? routes[target.toLowerCase()] : target;
      if (!to) {
        client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const [host, port] = [to.slice(0, to.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'), Number(to.slice(to.lastIndexOf(':') + 1))];
      const upstream = connect({ host, port }, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A proxy for the tests of the enclosing describe (or file): started in beforeAll, closed in afterAll. Read its
 * `url`, `tunnels` and `connects` inside the tests.
 */
export function useConnectProxy(routes?: Record<string, string>): Omit<ConnectProxy, 'close'> {
  let proxy: ConnectProxy | undefined;
  beforeAll(async () => {
    proxy = await startConnectProxy(routes);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  const started = (): ConnectProxy => {
    if (!proxy) throw new Error('useConnectProxy: read the proxy inside a test (it starts in beforeAll)');
    return proxy;
  };
  return {
    get url() {
      return started().url;
    },
    get tunnels() {
      return started().tunnels;
    },
    get connects() {
      return started().connects;
    },
  };
}
