// The lab side of the apiserver relay (see netns-relay.mjs): a Unix socket per control plane that
// forwards each connection to the apiserver's loopback port. While the apiserver is stopped the
// connection is refused, exactly as a direct one would be.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rmSync } from 'node:fs';

export class UnixRelay {
  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly open: Set<Socket>,
  ) {}

  static listen(path: string, port: number, host = '127.0.0.1'): Promise<UnixRelay> {
    rmSync(path, { force: true });
    const open = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = connect(port, host);
      open.add(client);
      client.once('close', () => open.delete(client));
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) {
        s.on('error', close);
        s.on('close', close);
      }
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve(new UnixRelay(path, server, open)));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Watches never end by themselves: cut them, or close() would wait for ever.
      for (const c of this.open) c.destroy();
      rmSync(this.path, { force: true });
    });
  }
}
