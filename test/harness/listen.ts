// Listening on a free loopback port, for the servers tests start in-process (fronts, fake registries).
import type { Server } from 'node:http';

/** Listens on a free loopback port; `host` and a `close()` that ends open connections and then the server. */
export async function listenLocal(server: Server): Promise<{ host: string; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
