/**
 * Admission: which HTTP upgrade requests become signaling connections. The
 * Origin check (origin-policy.ts), the WebSocket handshake, and the
 * connection slots: at most `maxConnectionsPerIp` per client address and
 * `maxConnections` in all, and the address's budget of new connections
 * (address-budget.ts), spent when the upgrade request arrives. A refused client is told why with a stable code
 * before it is closed (browsers cannot see an HTTP status on a refused
 * upgrade, but they do see a message).
 *
 * The server owns what happens after admission (server.ts `accept`).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, type SignalingErrorCode } from '@peerbench/protocol';
import type { WebSocket, WebSocketServer } from 'ws';
import type { AddressBudgets } from './address-budget.js';
import { errorMessage } from './host.js';
import { clientIp } from './http-routes.js';
import type { SignalingCounters } from './metrics.js';
import type { ResolvedSignalingServerOptions } from './options.js';
import { originAllowed } from './origin-policy.js';

export interface AdmissionContext {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  readonly counters: SignalingCounters;
  /** The server's per-address budgets ('connection' is spent here). */
  readonly budgets: AddressBudgets;
  running(): boolean;
  /** Every upgraded socket, admitted or about to be refused (stop() terminates them). */
  opened(ws: WebSocket): void;
  /** An admitted connection from `ip`; the server calls `release(ip)` once when it is done with it. */
  accept(ws: WebSocket, ip: string): void;
}

export class Admission {
  private readonly slotsPerIp = new Map<string, number>();
  private slots = 0;

  constructor(
    private readonly ctx: AdmissionContext,
    private readonly wss: WebSocketServer,
  ) {}

  /** Connections holding a slot. */
  get size(): number {
    return this.slots;
  }

  /** The HTTP server's 'upgrade' event. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.ctx.running()) {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    if (!originAllowed(req.headers.origin, req.headers.host, this.ctx.options)) {
      // A page of another site must not make its visitors' browsers join or send txs.
      this.ctx.counters.forbiddenOriginTotal++;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const ip = clientIp(req, this.ctx.options.trustProxy);
    // Spent when the upgrade request arrives, before the handshake: a client
    // that reconnects in a loop runs out whatever happens to its sockets.
    const withinBudget = this.ctx.budgets.take(ip, 'connection');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, ip, withinBudget));
  }

  private onWebSocket(ws: WebSocket, ip: string, withinBudget: boolean): void {
    // ws emits 'error' (e.g. payload over maxPayload) before closing; without
    // a listener that would crash the process.
    ws.on('error', () => {});
    this.ctx.opened(ws);
    if (!this.ctx.running()) {
      ws.close(CloseCode.goingAway, 'server shutting down');
      return;
    }
    if (!withinBudget) {
      this.refuse(ws, 'rate-limited', 'this address opens new connections faster than its budget');
      return;
    }
    const o = this.ctx.options;
    const perIp = this.slotsPerIp.get(ip) ?? 0;
    const refusal =
      perIp >= o.maxConnectionsPerIp
        ? `at most ${o.maxConnectionsPerIp} connections per address`
        : this.slots >= o.maxConnections
          ? `the server is at its ${o.maxConnections} connections`
          : undefined;
    if (refusal !== undefined) {
      this.refuse(ws, 'too-many-connections', refusal);
      return;
    }
    this.slotsPerIp.set(ip, perIp + 1);
    this.slots++;
    this.ctx.accept(ws, ip);
  }

  /** Accepts, explains with a stable code, closes with 1013. */
  private refuse(ws: WebSocket, code: SignalingErrorCode, reason: string): void {
    this.ctx.counters.rejectedMessagesTotal[code]++;
    ws.send(JSON.stringify(errorMessage(code, reason)));
    ws.close(CloseCode.tryAgainLater, code === 'too-many-connections' ? 'too many connections' : reason);
  }

  /** Frees an admitted connection's slot (once per accepted connection). */
  release(ip: string): void {
    this.slots--;
    const perIp = (this.slotsPerIp.get(ip) ?? 1) - 1;
    if (perIp <= 0) this.slotsPerIp.delete(ip);
    else this.slotsPerIp.set(ip, perIp);
  }
}
