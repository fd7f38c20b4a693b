/**
 * A TCP proxy on 127.0.0.1 that can go silent: a black-holed connection
 * stays open on both sides, but nothing crosses it any more (what a client
 * sees when its network drops without a reset: its socket looks open). For
 * the signaling keepalive tests.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  dead: boolean;
}

export class BlackholeProxy {
  /** Connections accepted so far. */
  accepted = 0;
  /** New connections are accepted but nothing is forwarded (a host that is unreachable for now). */
  blackholeNew = false;
  private readonly pairs = new Set<Pair>();
  private marker: string | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** A proxy to `target` (ws://host:port), listening on a free port of 127.0.0.1. */
  static async start(target: string): Promise<BlackholeProxy> {
    const { hostname, port } = new URL(target);
    let proxy: BlackholeProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, hostname, Number(port)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new BlackholeProxy(server, `ws://127.0.0.1:${address.port}`);
    return proxy;
  }

  /** Every connection open now goes silent in both directions (nothing is closed). */
  blackholeOpen(): void {
    for (const p of this.pairs) p.dead = true;
  }

  /** The next connection goes silent right after server data containing `marker` has passed to the client. */
  blackholeAfter(marker: string): void {
    this.marker = marker;
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    this.accepted++;
    const upstream = connect(port, host);
    const pair: Pair = { client, upstream, dead: this.blackholeNew };
    this.pairs.add(pair);
    client.on('data', (d: Buffer) => {
      if (!pair.dead) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (pair.dead) return;
      client.write(d);
      if (this.marker !== undefined && d.includes(this.marker)) {
        this.marker = undefined;
        pair.dead = true;
      }
    });
    // A silent connection stays silent: neither side learns of the other's close.
    const end = (other: Socket) => () => {
      if (!pair.dead) other.destroy();
    };
    client.on('close', end(upstream));
    upstream.on('close', end(client));
    client.on('error', () => {});
    upstream.on('error', () => {});
  }
}
