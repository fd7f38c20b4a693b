/**
 * Every TCP socket from the moment it is accepted, before HTTP has parsed
 * anything: the guard against descriptor exhaustion.
 *
 * - At most `maxOpenSockets` in all (half-open, HTTP, upgraded WebSocket):
 *   over it a new socket is destroyed at once, so the process stays below its
 *   descriptor limit and what is already open keeps working.
 * - A socket is *pending* until its first complete request headers arrive
 *   (an HTTP request or a WebSocket upgrade). At most `maxPendingSocketsPerIp`
 *   pending per client address (not applied with `trustProxy`: every socket
 *   then comes from the proxy, which buffers headers itself).
 * - A pending socket is closed after `upgradeTimeoutMs` (Node's default
 *   header timeout is 60 s; 20,000 half-open upgrades from one address used
 *   to reach the descriptor limit and reset /health for everyone).
 *
 * Later requests on a kept-alive HTTP socket are bounded by Node's own
 * headersTimeout, which server.ts sets to the same value.
 */
import type { Socket } from 'node:net';
import type { SignalingCounters } from './metrics.js';

export interface SocketGuardOptions {
  readonly maxOpenSockets: number;
  readonly maxPendingSocketsPerIp: number;
  readonly upgradeTimeoutMs: number;
  readonly trustProxy: boolean;
}

interface Pending {
  readonly ip: string;
  readonly timer: NodeJS.Timeout;
}

export class SocketGuard {
  private open = 0;
  private readonly pending = new Map<Socket, Pending>();
  private readonly pendingPerIp = new Map<string, number>();

  constructor(
    private readonly options: SocketGuardOptions,
    private readonly counters: SignalingCounters,
  ) {}

  /** Open TCP sockets (pending, HTTP or upgraded). */
  get openSockets(): number {
    return this.open;
  }

  /** Sockets whose first request headers have not arrived yet. */
  get pendingSockets(): number {
    return this.pending.size;
  }

  /** The HTTP server's 'connection' event. */
  onSocket(socket: Socket): void {
    const o = this.options;
    if (this.open >= o.maxOpenSockets) {
      this.counters.socketsRefusedTotal.server++;
      socket.destroy();
      return;
    }
    const ip = socket.remoteAddress ?? 'unknown';
    const pendingHere = this.pendingPerIp.get(ip) ?? 0;
    if (!o.trustProxy && pendingHere >= o.maxPendingSocketsPerIp) {
      this.counters.socketsRefusedTotal.address++;
      socket.destroy();
      return;
    }
    this.open++;
    this.pendingPerIp.set(ip, pendingHere + 1);
    const timer = setTimeout(() => {
      if (!this.pending.has(socket)) return;
      this.counters.upgradeTimeoutsTotal++;
      socket.destroy();
    }, o.upgradeTimeoutMs);
    timer.unref();
    this.pending.set(socket, { ip, timer });
    socket.once('close', () => {
      this.open--;
      this.settle(socket);
    });
  }

  /** Complete request headers arrived on `socket` (an HTTP request or an upgrade): it is no longer pending. */
  headersArrived(socket: Socket): void {
    this.settle(socket);
  }

  /** Destroys every socket still pending (stop()). */
  destroyPending(): void {
    for (const socket of [...this.pending.keys()]) socket.destroy();
  }

  private settle(socket: Socket): void {
    const p = this.pending.get(socket);
    if (!p) return;
    this.pending.delete(socket);
    clearTimeout(p.timer);
    const n = (this.pendingPerIp.get(p.ip) ?? 1) - 1;
    if (n <= 0) this.pendingPerIp.delete(p.ip);
    else this.pendingPerIp.set(p.ip, n);
  }
}
